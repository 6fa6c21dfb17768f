-- One deliverer per audit sink across the gateway nodes sharing the store:
-- the node holding a sink's lease is the only one delivering it and the
-- only one whose cursor writes are accepted (src/audit.rs, "Leases").

ALTER TABLE audit_sinks ADD COLUMN lease_holder TEXT;      -- the holding node's id; NULL: free
ALTER TABLE audit_sinks ADD COLUMN lease_until  BIGINT;    -- Unix ms; free for the taking after this
