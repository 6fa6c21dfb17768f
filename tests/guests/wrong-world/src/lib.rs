//! A component that is not a Gatehouse plugin: it imports an interface the
//! host does not provide and exports its own. Loading it must fail with a
//! clear error, not a crash or a half-loaded plugin.

#[cfg(target_arch = "wasm32")]
mod component {
    wit_bindgen::generate!({
        inline: "
            package other:thing@1.0.0;
            interface secrets { steal: func() -> string; }
            interface api { run: func() -> u32; }
            world other {
                import secrets;
                export api;
            }
        ",
    });

    struct Other;

    impl exports::other::thing::api::Guest for Other {
        fn run() -> u32 {
            other::thing::secrets::steal().len() as u32
        }
    }

    export!(Other);
}
