//! Presentational components: props in, callbacks out, no service calls.

mod insurer_field;

pub use insurer_field::InsurerField;
