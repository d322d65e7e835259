//! The administration pages' sentences, Spanish first and English complete.

use crate::i18n::Lang;

/// The administration pages' sentences in one language.
#[derive(Debug)]
pub struct AdminTexts {
    /// The dashboard's heading.
    pub title: &'static str,
    /// Under it.
    pub intro: &'static str,
    /// Before the name.
    pub signed_in_as: &'static str,
    /// The link back to the dashboard.
    pub back: &'static str,
    /// The refusal page's heading.
    pub denied_title: &'static str,
    /// Refused: nothing to administer.
    pub denied_any: &'static str,
    /// Refused: services, institutions, catalogue and journal.
    pub denied_services: &'static str,
    /// Refused: agents.
    pub denied_agents: &'static str,
    /// Refused: another institution.
    pub denied_institution: &'static str,
    /// Section: services.
    pub services: &'static str,
    /// Its description.
    pub services_hint: &'static str,
    /// Section: institutions.
    pub institutions: &'static str,
    /// Its description.
    pub institutions_hint: &'static str,
    /// Section: one's own institution.
    pub own_institution: &'static str,
    /// Section: attribute catalogue.
    pub attributes: &'static str,
    /// Its description.
    pub attributes_hint: &'static str,
    /// Section: the journal.
    pub journal: &'static str,
    /// Its description.
    pub journal_hint: &'static str,
    /// Section: agents.
    pub agents: &'static str,
    /// Its description.
    pub agents_hint: &'static str,
    /// After a change.
    pub saved: &'static str,
    /// Before a refusal's detail (in English).
    pub invalid_lead: &'static str,
    /// Column.
    pub col_name: &'static str,
    /// Column.
    pub col_id: &'static str,
    /// Column.
    pub col_auth: &'static str,
    /// Column.
    pub col_level: &'static str,
    /// Column.
    pub col_action: &'static str,
    /// Link.
    pub edit: &'static str,
    /// The services page's heading.
    pub services_title: &'static str,
    /// None.
    pub no_services: &'static str,
    /// The link to the form.
    pub register_link: &'static str,
    /// The form's heading.
    pub register_title: &'static str,
    /// The edit form's heading.
    pub edit_title: &'static str,
    /// Field.
    pub f_name: &'static str,
    /// Hint.
    pub f_name_hint: &'static str,
    /// Field.
    pub f_redirect_uris: &'static str,
    /// Hint.
    pub one_per_line: &'static str,
    /// Field.
    pub f_post_logout: &'static str,
    /// Field.
    pub f_auth: &'static str,
    /// Option.
    pub auth_secret: &'static str,
    /// Option.
    pub auth_public: &'static str,
    /// Option.
    pub auth_keys: &'static str,
    /// Before the fixed method on the edit form.
    pub auth_fixed: &'static str,
    /// Field.
    pub f_jwks: &'static str,
    /// Hint.
    pub f_jwks_hint: &'static str,
    /// Field.
    pub f_scopes: &'static str,
    /// Hint.
    pub f_scopes_hint: &'static str,
    /// Checkbox.
    pub f_client_credentials: &'static str,
    /// Field.
    pub f_backchannel: &'static str,
    /// Field.
    pub f_subject_type: &'static str,
    /// Option.
    pub subject_pairwise: &'static str,
    /// Option.
    pub subject_public: &'static str,
    /// Field.
    pub f_sector: &'static str,
    /// Hint.
    pub f_sector_hint: &'static str,
    /// Field.
    pub f_alg: &'static str,
    /// Checkbox.
    pub f_require_par: &'static str,
    /// Field.
    pub f_min_acr: &'static str,
    /// Option.
    pub acr_none: &'static str,
    /// Option.
    pub acr_1: &'static str,
    /// Option.
    pub acr_2: &'static str,
    /// Option.
    pub acr_3: &'static str,
    /// Field.
    pub f_jwks_uri: &'static str,
    /// Field.
    pub f_logo: &'static str,
    /// Field.
    pub f_purpose: &'static str,
    /// Hint.
    pub f_purpose_hint: &'static str,
    /// Field.
    pub f_legal_basis: &'static str,
    /// Field.
    pub f_events_uri: &'static str,
    /// Checkbox.
    pub f_mailbox_by_run: &'static str,
    /// Button.
    pub register_button: &'static str,
    /// Button.
    pub save_button: &'static str,
    /// After registering.
    pub created_title: &'static str,
    /// Under it.
    pub created_intro: &'static str,
    /// Label.
    pub client_id_label: &'static str,
    /// Label.
    pub secret_label: &'static str,
    /// When there is none.
    pub no_secret: &'static str,
    /// Link.
    pub to_services: &'static str,
    /// Error.
    pub err_name: &'static str,
    /// Error.
    pub err_jwks: &'static str,
    /// Heading.
    pub institutions_title: &'static str,
    /// None.
    pub no_institutions: &'static str,
    /// The form's heading.
    pub create_heading: &'static str,
    /// Field.
    pub f_inst_id: &'static str,
    /// Hint.
    pub f_inst_id_hint: &'static str,
    /// Field.
    pub f_inst_name: &'static str,
    /// Button.
    pub create_button: &'static str,
    /// Heading.
    pub staff_heading: &'static str,
    /// None.
    pub no_staff: &'static str,
    /// Column.
    pub col_person: &'static str,
    /// Column.
    pub col_role: &'static str,
    /// Role.
    pub role_admin: &'static str,
    /// Role.
    pub role_operator: &'static str,
    /// Role.
    pub role_ministro: &'static str,
    /// Heading.
    pub grant_heading: &'static str,
    /// Field.
    pub f_run: &'static str,
    /// Field.
    pub f_role: &'static str,
    /// Button.
    pub grant_button: &'static str,
    /// Button.
    pub revoke_button: &'static str,
    /// Error.
    pub err_run: &'static str,
    /// Error.
    pub err_unknown_run: &'static str,
    /// Error.
    pub err_role: &'static str,
    /// Heading.
    pub attributes_title: &'static str,
    /// The form's heading.
    pub define_heading: &'static str,
    /// Its explanation.
    pub define_hint: &'static str,
    /// Field.
    pub f_attr_name: &'static str,
    /// Field.
    pub f_label_es: &'static str,
    /// Field.
    pub f_label_en: &'static str,
    /// Field.
    pub f_kind: &'static str,
    /// Field.
    pub f_codes: &'static str,
    /// Hint.
    pub f_codes_hint: &'static str,
    /// Checkbox.
    pub f_sensitive: &'static str,
    /// Field.
    pub f_attr_scope: &'static str,
    /// Checkbox.
    pub f_self_asserted: &'static str,
    /// Button.
    pub define_button: &'static str,
    /// Column.
    pub col_kind: &'static str,
    /// Column.
    pub col_scope: &'static str,
    /// Column.
    pub col_flags: &'static str,
    /// Flag.
    pub sensitive: &'static str,
    /// Flag.
    pub self_asserted: &'static str,
    /// Heading.
    pub journal_title: &'static str,
    /// The chain is intact (before the count).
    pub chain_ok: &'static str,
    /// The chain is broken (before the problem).
    pub chain_broken: &'static str,
    /// Field.
    pub f_kind_filter: &'static str,
    /// Hint.
    pub f_kind_hint: &'static str,
    /// Button.
    pub filter_button: &'static str,
    /// Column.
    pub col_seq: &'static str,
    /// Column.
    pub col_at: &'static str,
    /// Column.
    pub col_actor: &'static str,
    /// Column.
    pub col_subject: &'static str,
    /// Column.
    pub col_data: &'static str,
    /// Paging link.
    pub older: &'static str,
    /// Paging link.
    pub newest: &'static str,
    /// None.
    pub no_entries: &'static str,
    /// Heading.
    pub agents_title: &'static str,
    /// Under it.
    pub agents_intro: &'static str,
    /// The table's caption.
    pub staff_caption: &'static str,
    /// Column.
    pub col_office: &'static str,
    /// None.
    pub no_agents: &'static str,
    /// Role.
    pub role_agent: &'static str,
    /// Role.
    pub role_supervisor: &'static str,
    /// Role.
    pub role_admin_staff: &'static str,
    /// Field.
    pub f_office: &'static str,
    /// Hint.
    pub f_office_hint: &'static str,
    /// Error.
    pub err_office: &'static str,
    /// Error.
    pub err_not_held: &'static str,
    /// The heading of the form that rotates a service's secret.
    pub rotate_heading: &'static str,
    /// Under it.
    pub rotate_hint: &'static str,
    /// The confirmation checkbox's label.
    pub rotate_confirm: &'static str,
    /// The button.
    pub rotate_button: &'static str,
    /// Error.
    pub err_rotate_confirm: &'static str,
    /// The page showing the new secret.
    pub rotated_title: &'static str,
    /// Instead of the rotate form, for a service without a secret.
    pub no_secret_to_rotate: &'static str,
    /// The heading of the form that removes a service.
    pub remove_heading: &'static str,
    /// Under it.
    pub remove_hint: &'static str,
    /// The confirmation field's label.
    pub remove_confirm: &'static str,
    /// The button.
    pub remove_button: &'static str,
    /// Error.
    pub err_remove_confirm: &'static str,
    /// After removing.
    pub removed: &'static str,
    /// The heading of an attribute's authoritative sources.
    pub sources_heading: &'static str,
    /// Under it.
    pub sources_hint: &'static str,
    /// When it has none.
    pub no_sources: &'static str,
    /// A column.
    pub col_service: &'static str,
    /// The field choosing a service to make a source.
    pub f_source: &'static str,
    /// The empty choice of that field.
    pub source_pick: &'static str,
    /// The button.
    pub source_grant_button: &'static str,
    /// Error.
    pub err_source: &'static str,
    /// After granting.
    pub source_granted: &'static str,
    /// After revoking.
    pub source_revoked: &'static str,
}

/// Spanish.
pub static ES: AdminTexts = AdminTexts {
    title: "Administración",
    intro: "Lo que puedes administrar con tu cuenta. Cada cambio queda en la bitácora con tu nombre.",
    signed_in_as: "Ingresaste como",
    back: "Volver a la administración",
    denied_title: "No puedes administrar esto",
    denied_any: "Tu cuenta no tiene un rol de administración. Pide a un administrador que te lo asigne.",
    denied_services: "Solo los administradores de clave administran servicios, instituciones, el catálogo de atributos y la bitácora.",
    denied_agents: "Solo los administradores y los supervisores de agentes administran agentes y oficinas.",
    denied_institution: "Solo administras los funcionarios de tu propia institución. Esta institución no es la tuya.",
    services: "Servicios",
    services_hint: "Registra y edita los servicios que usan clave para ingresar o pedir datos.",
    institutions: "Instituciones",
    institutions_hint: "Crea instituciones y asigna sus roles: administrador, operador y ministro de fe.",
    own_institution: "Funcionarios de",
    attributes: "Catálogo de atributos",
    attributes_hint: "Los datos que guarda la billetera, su tipo y su nivel de protección.",
    journal: "Bitácora",
    journal_hint: "Los eventos de seguridad, encadenados para que ningún cambio pase inadvertido.",
    agents: "Agentes y oficinas",
    agents_hint: "Asigna y quita el rol de agente de atención, con su oficina.",
    saved: "Cambios guardados.",
    invalid_lead: "Revisa los datos. Detalle:",
    col_name: "Nombre",
    col_id: "Identificador",
    col_auth: "Autenticación",
    col_level: "Nivel mínimo",
    col_action: "Acción",
    edit: "Editar",
    services_title: "Servicios registrados",
    no_services: "No hay servicios registrados.",
    register_link: "Registrar un servicio",
    register_title: "Registrar un servicio",
    edit_title: "Editar el servicio",
    f_name: "Nombre del servicio",
    f_name_hint: "Lo ven las personas al ingresar.",
    f_redirect_uris: "URI de redirección",
    one_per_line: "Una por línea. Deben ser https (http solo en localhost).",
    f_post_logout: "URI de regreso al cerrar sesión",
    f_auth: "Cómo se autentica el servicio",
    auth_secret: "Con un secreto (client_secret_basic)",
    auth_public: "Aplicación pública, sin secreto (PKCE obligatorio)",
    auth_keys: "Con sus llaves (private_key_jwt)",
    auth_fixed: "Método fijado al registrar:",
    f_jwks: "JWK Set del servicio (JSON)",
    f_jwks_hint: "Solo para autenticación con llaves.",
    f_scopes: "Alcances (scopes)",
    f_scopes_hint: "Separados por espacios; por omisión: openid profile email.",
    f_client_credentials: "Puede llamar las API por sí mismo (client_credentials)",
    f_backchannel: "URI de cierre de sesión por canal trasero",
    f_subject_type: "Tipo de identificador de la persona (sub)",
    subject_pairwise: "Distinto por servicio (pairwise)",
    subject_public: "El mismo para todos (public)",
    f_sector: "Sector (pairwise)",
    f_sector_hint: "Los servicios del mismo sector ven el mismo identificador. En blanco: solo este servicio.",
    f_alg: "Algoritmo del ID token",
    f_require_par: "Exigir solicitudes enviadas por PAR",
    f_min_acr: "Nivel mínimo de seguridad del ingreso",
    acr_none: "Sin mínimo",
    acr_1: "Nivel 1: contraseña",
    acr_2: "Nivel 2: con segundo factor",
    acr_3: "Nivel 3: llave de acceso",
    f_jwks_uri: "URI donde publica sus llaves",
    f_logo: "URL del logotipo",
    f_purpose: "Finalidad del tratamiento",
    f_purpose_hint: "Se muestra al pedir consentimiento cuando la solicitud no indica otra.",
    f_legal_basis: "Base legal",
    f_events_uri: "URI de eventos de consentimiento",
    f_mailbox_by_run: "Puede enviar avisos a la casilla indicando el RUN",
    register_button: "Registrar el servicio",
    save_button: "Guardar los cambios",
    created_title: "Servicio registrado",
    created_intro: "Copia el secreto ahora y guárdalo de forma segura: no se volverá a mostrar.",
    client_id_label: "Identificador del cliente (client_id)",
    secret_label: "Secreto del cliente (client_secret)",
    no_secret: "Este servicio no usa secreto.",
    to_services: "Ir a la lista de servicios",
    err_name: "Escribe el nombre del servicio.",
    err_jwks: "El JWK Set no es JSON válido.",
    institutions_title: "Instituciones",
    no_institutions: "No hay instituciones registradas.",
    create_heading: "Crear una institución",
    f_inst_id: "Identificador corto",
    f_inst_id_hint: "Letras minúsculas, dígitos y guiones, por ejemplo registro-civil.",
    f_inst_name: "Nombre de la institución",
    create_button: "Crear la institución",
    staff_heading: "Personal y roles",
    no_staff: "Nadie tiene roles en esta institución.",
    col_person: "Persona",
    col_role: "Rol",
    role_admin: "Administrador de la institución",
    role_operator: "Operador",
    role_ministro: "Ministro de fe",
    grant_heading: "Asignar un rol",
    f_run: "RUN de la persona",
    f_role: "Rol",
    grant_button: "Asignar el rol",
    revoke_button: "Quitar",
    err_run: "El RUN no es válido. Escríbelo con su dígito verificador, por ejemplo 12.345.678-5.",
    err_unknown_run: "Ninguna cuenta tiene este RUN.",
    err_role: "Elige un rol de la lista.",
    attributes_title: "Catálogo de atributos",
    define_heading: "Agregar o cambiar un atributo",
    define_hint: "Con el nombre de un atributo existente, cambias su definición.",
    f_attr_name: "Nombre (también el del claim)",
    f_label_es: "Etiqueta en español",
    f_label_en: "Etiqueta en inglés",
    f_kind: "Tipo",
    f_codes: "Códigos (para el tipo lista de códigos)",
    f_codes_hint: "Separados por espacios.",
    f_sensitive: "Sensible: entregarlo exige nivel 2",
    f_attr_scope: "Alcance (scope) que lo pide",
    f_self_asserted: "La persona puede declararlo ella misma",
    define_button: "Guardar el atributo",
    col_kind: "Tipo",
    col_scope: "Alcance",
    col_flags: "Condiciones",
    sensitive: "sensible",
    self_asserted: "declarable",
    journal_title: "Bitácora de seguridad",
    chain_ok: "La cadena está íntegra. Entradas verificadas:",
    chain_broken: "La cadena está rota:",
    f_kind_filter: "Tipo de evento",
    f_kind_hint: "Por ejemplo client.registered. En blanco: todos.",
    filter_button: "Filtrar",
    col_seq: "N.º",
    col_at: "Fecha",
    col_actor: "Quién",
    col_subject: "Sobre qué",
    col_data: "Detalle",
    older: "Entradas anteriores",
    newest: "Las más recientes",
    no_entries: "No hay entradas.",
    agents_title: "Agentes y oficinas",
    agents_intro: "Los agentes verifican a quienes llaman y atienden en oficinas. Cada agente pertenece a una oficina.",
    staff_caption: "Cuentas con roles de personal",
    col_office: "Oficina",
    no_agents: "Nadie tiene roles de personal.",
    role_agent: "Agente",
    role_supervisor: "Supervisor de agentes",
    role_admin_staff: "Administrador",
    f_office: "Oficina",
    f_office_hint: "Por ejemplo Call center Santiago. Obligatoria para agentes.",
    err_office: "Un agente pertenece a una oficina: escribe su nombre (hasta 120 caracteres).",
    err_not_held: "La cuenta no tiene ese rol.",
    rotate_heading: "Rotar el secreto",
    rotate_hint: "Genera un secreto nuevo, que se muestra una sola vez. El secreto actual deja de funcionar de inmediato: el servicio debe usar el nuevo desde ese momento.",
    rotate_confirm: "Entiendo que el secreto actual dejará de funcionar de inmediato.",
    rotate_button: "Rotar el secreto",
    err_rotate_confirm: "Marca la casilla para confirmar que el secreto actual dejará de funcionar.",
    rotated_title: "Secreto rotado",
    no_secret_to_rotate: "Este servicio no usa secreto, así que no hay secreto que rotar.",
    remove_heading: "Eliminar el servicio",
    remove_hint: "El servicio ya no podrá iniciar sesiones ni obtener tokens, y se revocan todos sus permisos y tokens. No se puede deshacer.",
    remove_confirm: "Para confirmar, escribe el identificador del servicio (client_id)",
    remove_button: "Eliminar el servicio",
    err_remove_confirm: "Escribe exactamente el identificador del servicio para confirmar que quieres eliminarlo.",
    removed: "Servicio eliminado; sus permisos y tokens quedaron revocados.",
    sources_heading: "Fuentes autorizadas",
    sources_hint: "Los servicios que pueden publicar este atributo en la billetera de las personas.",
    no_sources: "Ningún servicio es fuente de este atributo.",
    col_service: "Servicio",
    f_source: "Servicio que será fuente",
    source_pick: "Elige un servicio",
    source_grant_button: "Agregar como fuente",
    err_source: "Elige uno de los servicios registrados.",
    source_granted: "Fuente agregada.",
    source_revoked: "Fuente revocada.",
};

/// English.
pub static EN: AdminTexts = AdminTexts {
    title: "Administration",
    intro: "What your account may administer. Every change is recorded in the journal with your name.",
    signed_in_as: "Signed in as",
    back: "Back to administration",
    denied_title: "You cannot administer this",
    denied_any: "Your account holds no administration role. Ask an administrator to grant you one.",
    denied_services: "Only clave's administrators manage services, institutions, the attribute catalogue and the journal.",
    denied_agents: "Only administrators and agent supervisors manage agents and offices.",
    denied_institution: "You administer only your own institution's officials. This institution is not yours.",
    services: "Services",
    services_hint: "Register and edit the services that use clave to sign citizens in or ask for data.",
    institutions: "Institutions",
    institutions_hint: "Create institutions and grant their roles: administrator, operator and ministro de fe.",
    own_institution: "Officials of",
    attributes: "Attribute catalogue",
    attributes_hint: "The data the wallet holds, their type and how they are protected.",
    journal: "Journal",
    journal_hint: "The security events, chained so that no alteration goes unnoticed.",
    agents: "Agents and offices",
    agents_hint: "Grant and revoke the service-agent role, with its office.",
    saved: "Changes saved.",
    invalid_lead: "Check the details. Reason:",
    col_name: "Name",
    col_id: "Identifier",
    col_auth: "Authentication",
    col_level: "Minimum level",
    col_action: "Action",
    edit: "Edit",
    services_title: "Registered services",
    no_services: "No services are registered.",
    register_link: "Register a service",
    register_title: "Register a service",
    edit_title: "Edit the service",
    f_name: "Service name",
    f_name_hint: "Citizens see it when they sign in.",
    f_redirect_uris: "Redirect URIs",
    one_per_line: "One per line. They must be https (http only on localhost).",
    f_post_logout: "Post-logout redirect URIs",
    f_auth: "How the service authenticates",
    auth_secret: "With a secret (client_secret_basic)",
    auth_public: "Public app, no secret (PKCE required)",
    auth_keys: "With its keys (private_key_jwt)",
    auth_fixed: "Method set at registration:",
    f_jwks: "The service's JWK Set (JSON)",
    f_jwks_hint: "Only for authentication with keys.",
    f_scopes: "Scopes",
    f_scopes_hint: "Separated by spaces; by default: openid profile email.",
    f_client_credentials: "May call the APIs as itself (client_credentials)",
    f_backchannel: "Back-channel logout URI",
    f_subject_type: "Subject identifier type (sub)",
    subject_pairwise: "Different per service (pairwise)",
    subject_public: "The same for all (public)",
    f_sector: "Sector (pairwise)",
    f_sector_hint: "Services of the same sector see the same identifier. Blank: this service alone.",
    f_alg: "ID token algorithm",
    f_require_par: "Require pushed authorization requests (PAR)",
    f_min_acr: "Minimum level of assurance",
    acr_none: "No minimum",
    acr_1: "Level 1: password",
    acr_2: "Level 2: with a second factor",
    acr_3: "Level 3: passkey",
    f_jwks_uri: "URI where it publishes its keys",
    f_logo: "Logo URL",
    f_purpose: "Purpose of processing",
    f_purpose_hint: "Shown when asking for consent if the request states none.",
    f_legal_basis: "Legal basis",
    f_events_uri: "Consent events URI",
    f_mailbox_by_run: "May send mailbox notices addressed by RUN",
    register_button: "Register the service",
    save_button: "Save the changes",
    created_title: "Service registered",
    created_intro: "Copy the secret now and store it safely: it will not be shown again.",
    client_id_label: "Client identifier (client_id)",
    secret_label: "Client secret (client_secret)",
    no_secret: "This service uses no secret.",
    to_services: "Go to the list of services",
    err_name: "Enter the service's name.",
    err_jwks: "The JWK Set is not valid JSON.",
    institutions_title: "Institutions",
    no_institutions: "No institutions are registered.",
    create_heading: "Create an institution",
    f_inst_id: "Short identifier",
    f_inst_id_hint: "Lower-case letters, digits and hyphens, for example registro-civil.",
    f_inst_name: "Name of the institution",
    create_button: "Create the institution",
    staff_heading: "Staff and roles",
    no_staff: "Nobody holds a role in this institution.",
    col_person: "Person",
    col_role: "Role",
    role_admin: "Institution administrator",
    role_operator: "Operator",
    role_ministro: "Ministro de fe",
    grant_heading: "Grant a role",
    f_run: "The person's RUN",
    f_role: "Role",
    grant_button: "Grant the role",
    revoke_button: "Revoke",
    err_run: "The RUN is not valid. Type it with its check digit, for example 12.345.678-5.",
    err_unknown_run: "No account has this RUN.",
    err_role: "Choose a role from the list.",
    attributes_title: "Attribute catalogue",
    define_heading: "Add or change an attribute",
    define_hint: "With the name of an existing attribute, you change its definition.",
    f_attr_name: "Name (also the claim's)",
    f_label_es: "Label in Spanish",
    f_label_en: "Label in English",
    f_kind: "Type",
    f_codes: "Codes (for the code-list type)",
    f_codes_hint: "Separated by spaces.",
    f_sensitive: "Sensitive: releasing it needs level 2",
    f_attr_scope: "Scope that asks for it",
    f_self_asserted: "Citizens may assert it themselves",
    define_button: "Save the attribute",
    col_kind: "Type",
    col_scope: "Scope",
    col_flags: "Conditions",
    sensitive: "sensitive",
    self_asserted: "self-asserted",
    journal_title: "Security journal",
    chain_ok: "The chain is intact. Entries verified:",
    chain_broken: "The chain is broken:",
    f_kind_filter: "Event kind",
    f_kind_hint: "For example client.registered. Blank: all.",
    filter_button: "Filter",
    col_seq: "No.",
    col_at: "Date",
    col_actor: "Who",
    col_subject: "About",
    col_data: "Details",
    older: "Older entries",
    newest: "Newest entries",
    no_entries: "No entries.",
    agents_title: "Agents and offices",
    agents_intro: "Agents verify callers and serve people at offices. Every agent belongs to an office.",
    staff_caption: "Accounts with staff roles",
    col_office: "Office",
    no_agents: "Nobody holds a staff role.",
    role_agent: "Agent",
    role_supervisor: "Agent supervisor",
    role_admin_staff: "Administrator",
    f_office: "Office",
    f_office_hint: "For example Call center Santiago. Required for agents.",
    err_office: "An agent belongs to an office: type its name (up to 120 characters).",
    err_not_held: "The account does not hold that role.",
    rotate_heading: "Rotate the secret",
    rotate_hint: "Makes a new secret, shown only once. The current secret stops working at once: the service must use the new one from then on.",
    rotate_confirm: "I understand that the current secret stops working at once.",
    rotate_button: "Rotate the secret",
    err_rotate_confirm: "Tick the box to confirm that the current secret stops working.",
    rotated_title: "Secret rotated",
    no_secret_to_rotate: "This service uses no secret, so there is no secret to rotate.",
    remove_heading: "Remove the service",
    remove_hint: "The service can no longer sign anyone in or get tokens, and all its grants and tokens are revoked. This cannot be undone.",
    remove_confirm: "To confirm, type the service's identifier (client_id)",
    remove_button: "Remove the service",
    err_remove_confirm: "Type the service's identifier exactly to confirm that you want to remove it.",
    removed: "Service removed; its grants and tokens are revoked.",
    sources_heading: "Authoritative sources",
    sources_hint: "The services that may publish this attribute to people's wallets.",
    no_sources: "No service is a source of this attribute.",
    col_service: "Service",
    f_source: "Service to make a source",
    source_pick: "Choose a service",
    source_grant_button: "Add as a source",
    err_source: "Choose one of the registered services.",
    source_granted: "Source added.",
    source_revoked: "Source revoked.",
};

/// The sentences in `lang`.
pub fn texts(lang: Lang) -> &'static AdminTexts {
    match lang {
        Lang::Es => &ES,
        Lang::En => &EN,
    }
}
