//! The append-only JSON Lines journal of a sweep, resume bookkeeping, and rendering of records into reports and summaries.
