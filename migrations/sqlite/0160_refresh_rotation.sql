-- A refresh token is spent once the token that replaced it exists: the rotation is a single
-- insert, and of two presentations of the same token at once the unique index lets only one
-- insert its successor. Tokens spent before this migration already have their successor, so
-- the column that marked them is no longer needed.
CREATE UNIQUE INDEX idp_refresh_tokens_parent ON idp_refresh_tokens (parent);
ALTER TABLE idp_refresh_tokens DROP COLUMN used_at;
