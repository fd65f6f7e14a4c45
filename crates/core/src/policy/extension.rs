//! The filename extensions a slot kind takes, and the sentence that says so.
//!
//! The allowlist is derived, not configured: it is the extensions of the policy's
//! `allowed_types` ([`ImageType::extensions`]). Allowing or dropping a type moves its extensions
//! with it, so the two lists cannot drift apart, and there is no setting to get wrong. A name
//! must also agree with the type declared for it: `logo.exe` and `logo` are refused, and so is
//! `logo.jpg` declared `image/png`. Case does not matter (`LOGO.PNG` is a PNG's name).
//!
//! The filename stays metadata: the sniffed type decides what a file is. This check only
//! stops an upload whose name and declared type already disagree, before anything is signed.

use super::Policy;
use crate::image_type::ImageType;
use crate::record::FileName;
use crate::restaurant::SlotKind;

impl Policy {
    /// Every filename extension this policy allows, lowercase and without the dot, in the
    /// order of the allowed types (the usual extension of each first).
    pub fn allowed_extensions(&self) -> Vec<&'static str> {
        self.allowed_types
            .iter()
            .flat_map(|t| t.extensions().iter().copied())
            .collect()
    }

    /// Whether `filename` ends in an extension of `declared`, a type this policy allows;
    /// case-insensitive.
    pub fn extension_allows(&self, filename: &FileName, declared: ImageType) -> bool {
        self.allows(declared)
            && filename.extension().is_some_and(|extension| {
                declared
                    .extensions()
                    .iter()
                    .any(|allowed| allowed.eq_ignore_ascii_case(extension))
            })
    }
}

/// Why `filename` may not be sent as `declared`, naming the extensions the kind takes: "the
/// filename ends in .exe: logo takes .jpg, .jpeg, .png or .webp files, and the name of an
/// image/png file must end in .png". The owner page words its refusal the same way
/// (`extensionRefusal` in `web/upload.js`).
pub fn explain_extension_refusal(
    kind: SlotKind,
    policy: &Policy,
    filename: &FileName,
    declared: ImageType,
) -> String {
    let detail = match filename.extension() {
        Some(extension) => format!("the filename ends in .{}", extension.to_lowercase()),
        None => "the filename has no extension".to_owned(),
    };
    let dotted = |extensions: &[&str]| {
        either_of(
            &extensions
                .iter()
                .map(|e| format!(".{e}"))
                .collect::<Vec<_>>(),
        )
    };
    format!(
        "{detail}: {kind} takes {} files, and the name of an {declared} file must end in {}",
        dotted(&policy.allowed_extensions()),
        dotted(declared.extensions()),
    )
}

/// "a", "a or b", "a, b or c".
fn either_of(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn name(raw: &str) -> FileName {
        FileName::parse(raw).unwrap()
    }

    #[test]
    fn the_allowlist_is_the_extensions_of_the_allowed_types() {
        assert_eq!(
            Policy::default().allowed_extensions(),
            ["jpg", "jpeg", "png", "webp"]
        );
        let png_only = Policy {
            allowed_types: BTreeSet::from([ImageType::Png]),
            ..Policy::default()
        };
        assert_eq!(png_only.allowed_extensions(), ["png"]);
        assert!(!png_only.extension_allows(&name("photo.jpg"), ImageType::Jpeg));
    }

    #[test]
    fn a_name_must_end_in_an_extension_of_its_declared_type_whatever_the_case() {
        let policy = Policy::default();
        for (raw, declared) in [
            ("logo.png", ImageType::Png),
            ("LOGO.PNG", ImageType::Png),
            ("photo.jpg", ImageType::Jpeg),
            ("photo.JPEG", ImageType::Jpeg),
            ("menu.v2.webp", ImageType::Webp),
        ] {
            assert!(policy.extension_allows(&name(raw), declared), "{raw}");
        }
        for (raw, declared) in [
            ("logo.exe", ImageType::Png),
            ("photo.jpg", ImageType::Png),
            ("logo.png", ImageType::Webp),
            ("logo", ImageType::Png),
            ("logo.", ImageType::Png),
            (".png", ImageType::Png),
            ("logo.png.exe", ImageType::Png),
            ("logo.pn", ImageType::Png),
        ] {
            assert!(!policy.extension_allows(&name(raw), declared), "{raw}");
        }
    }

    #[test]
    fn the_refusal_names_the_extensions_the_kind_takes() {
        let policy = Policy::default();
        assert_eq!(
            explain_extension_refusal(SlotKind::Logo, &policy, &name("logo.EXE"), ImageType::Png),
            "the filename ends in .exe: logo takes .jpg, .jpeg, .png or .webp files, and the \
             name of an image/png file must end in .png"
        );
        assert_eq!(
            explain_extension_refusal(SlotKind::Cover, &policy, &name("cover"), ImageType::Jpeg),
            "the filename has no extension: cover takes .jpg, .jpeg, .png or .webp files, and \
             the name of an image/jpeg file must end in .jpg or .jpeg"
        );
    }
}
