//! KvStore port and its backends (being written).
