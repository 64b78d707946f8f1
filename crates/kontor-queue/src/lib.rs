//! MessageBus port, its backends and the worker runtime (being written).
