//! Spryker-compatible CSV data import (being written).
