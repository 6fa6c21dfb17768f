//! The wit-bindgen guest bindings of `gatehouse:plugin@0.1.0`'s `plugin`
//! world: the required `guest` interface and the optional `query-filter`.
//! Private: the crate root re-exports the types authors need under stable
//! names.

wit_bindgen::generate!({
    path: "../wit/v0.1",
    world: "plugin",
    pub_export_macro: true,
    export_macro_name: "export_guest",
    default_bindings_module: "gatehouse_sdk::__private::bindings",
    generate_all,
    additional_derives: [PartialEq],
});
