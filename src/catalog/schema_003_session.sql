-- 002: what the labeling session remembers between runs (the mode it was left in).
CREATE TABLE session_settings (
    key           TEXT PRIMARY KEY,
    value         TEXT NOT NULL
);
