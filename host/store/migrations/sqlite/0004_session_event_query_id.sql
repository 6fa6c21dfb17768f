-- A session event's query: a prepared statement decided once and run many
-- times is one query with many events (`seq` numbers the events).
ALTER TABLE session_events ADD COLUMN query_id INTEGER;
UPDATE session_events SET query_id = seq WHERE kind = 'query';
