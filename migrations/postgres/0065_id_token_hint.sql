-- The subject an authorization request's `id_token_hint` names: a browser signed in as
-- someone else must log in again before a code is issued for that request.
ALTER TABLE idp_auth_requests ADD COLUMN hint_subject TEXT;
