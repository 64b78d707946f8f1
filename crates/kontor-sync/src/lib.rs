//! Publishers and sync writers (being written).
