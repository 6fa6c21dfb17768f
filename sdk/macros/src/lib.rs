//! `#[gatehouse_sdk::plugin]`: put it on `impl Plugin for MyPlugin { … }`.
//!
//! It reads which hook methods the impl defines, sets `Plugin::HOOKS` to
//! exactly those (the host calls no others, so a plugin that only judges
//! queries costs nothing on the row path), and exports the component with
//! `gatehouse_sdk::export_plugin!`. An impl that sets `HOOKS` itself is an
//! error: the list would drift from the code.

use proc_macro::TokenStream;
use quote::quote;
use syn::{ImplItem, ItemImpl, parse_macro_input, spanned::Spanned};

/// Which `Hook` each trait method implements.
const HOOK_METHODS: &[(&str, &str)] = &[
    ("on_connect", "OnConnect"),
    ("on_query", "OnQuery"),
    ("on_result_start", "OnResult"),
    ("on_result_rows", "OnResult"),
    ("on_result_end", "OnResult"),
    ("on_disconnect", "OnDisconnect"),
    ("on_review", "OnReview"),
    ("on_audit_event", "OnAuditEvent"),
];

#[proc_macro_attribute]
pub fn plugin(attr: TokenStream, item: TokenStream) -> TokenStream {
    if !attr.is_empty() {
        let attr = proc_macro2::TokenStream::from(attr);
        return syn::Error::new(attr.span(), "#[plugin] takes no arguments")
            .to_compile_error()
            .into();
    }
    let mut item = parse_macro_input!(item as ItemImpl);
    match expand(&mut item) {
        Ok(tokens) => tokens.into(),
        Err(err) => err.to_compile_error().into(),
    }
}

fn expand(item: &mut ItemImpl) -> syn::Result<proc_macro2::TokenStream> {
    if item.trait_.is_none() {
        return Err(syn::Error::new(
            item.span(),
            "#[plugin] goes on `impl Plugin for YourType`",
        ));
    }
    let mut hooks: Vec<&str> = Vec::new();
    for impl_item in &item.items {
        match impl_item {
            ImplItem::Fn(f) => {
                let name = f.sig.ident.to_string();
                if let Some((_, hook)) = HOOK_METHODS.iter().find(|(m, _)| *m == name)
                    && !hooks.contains(hook)
                {
                    hooks.push(hook);
                }
            }
            ImplItem::Const(c) if c.ident == "HOOKS" => {
                return Err(syn::Error::new(
                    c.span(),
                    "#[plugin] derives HOOKS from the methods you implement; remove this const",
                ));
            }
            _ => {}
        }
    }
    let hook_idents = hooks
        .iter()
        .map(|h| syn::Ident::new(h, proc_macro2::Span::call_site()));
    let hooks_const: ImplItem = syn::parse_quote! {
        const HOOKS: &'static [::gatehouse_sdk::Hook] = &[#(::gatehouse_sdk::Hook::#hook_idents),*];
    };
    item.items.push(hooks_const);
    let self_ty = &item.self_ty;
    Ok(quote! {
        #item
        ::gatehouse_sdk::export_plugin!(#self_ty);
    })
}
