-- The administration pages register and edit services with a logo, shown to citizens beside
-- the service's name. Optional: services registered before have none.
ALTER TABLE idp_clients ADD COLUMN logo_uri TEXT;
