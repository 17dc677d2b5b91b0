"""The database-backed job queue: features queue jobs here, the worker (`accord worker`, `accord serve`) runs them."""
