-- Up Migration
-- Client statement links: a client reads its statement (balance, deposits, payouts) at an unguessable URL
-- made by `satmachine clients statement-link`. Only the SHA-256 of the link's token is stored: a copy of the
-- ledger does not reveal working links. A client has at most one active link; issuing a new one revokes it.
CREATE TABLE satoshimachine.statement_links (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  client_id uuid NOT NULL REFERENCES satoshimachine.clients (id),
  token_sha256 text NOT NULL UNIQUE CHECK (token_sha256 ~ '^[0-9a-f]{64}$'),
  created_by text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  revoked_at timestamptz,
  revoked_by text,
  CHECK ((revoked_at IS NULL) = (revoked_by IS NULL))
);
CREATE UNIQUE INDEX statement_links_one_active ON satoshimachine.statement_links (client_id) WHERE revoked_at IS NULL;

-- Down Migration
DROP TABLE satoshimachine.statement_links;
