//! Files refused before their header is read: empty, too large, not an allowed image
//! whatever their name says, or not the type declared.

use image::ImageFormat;
use vetted_core::ReasonCode;
use vetted_core::policy::MIB;

use super::{Case, Expect, JPEG, PNG, Sample, WEBP, build};
use crate::images;
use crate::{hostile, raw};

pub(super) fn samples() -> Vec<Sample> {
    use ReasonCode::{TooLarge, TypeMismatch, TypeNotAllowed};
    let mut twenty_mib_and_one = images::png(64, 64);
    twenty_mib_and_one.resize(usize::try_from(20 * MIB + 1).expect("64-bit"), 0);
    build(vec![
        Case(
            "empty",
            "empty.png",
            PNG,
            Vec::new(),
            Expect::Reject(ReasonCode::Empty),
            false,
            "zero bytes",
        ),
        Case(
            "five_bytes_text",
            "tiny.png",
            PNG,
            b"hello".to_vec(),
            Expect::Reject(TypeNotAllowed),
            false,
            "5 bytes that are no signature",
        ),
        Case(
            "five_bytes_png_start",
            "tiny2.png",
            PNG,
            raw::PNG_SIGNATURE[..5].to_vec(),
            Expect::Reject(ReasonCode::Truncated),
            false,
            "5 bytes: the start of a PNG signature",
        ),
        Case(
            "html_as_png",
            "index.png",
            PNG,
            hostile::html(),
            Expect::Reject(TypeNotAllowed),
            false,
            "HTML with a script",
        ),
        Case(
            "svg_script_as_png",
            "logo-svg.png",
            PNG,
            hostile::svg_with_script(),
            Expect::Reject(TypeNotAllowed),
            false,
            "SVG with a script, named .png",
        ),
        Case(
            "svg_script",
            "logo.svg",
            "image/svg+xml",
            hostile::svg_with_script(),
            Expect::Reject(TypeNotAllowed),
            false,
            "SVG declared as SVG",
        ),
        Case(
            "mvg_as_jpg",
            "exploit.jpg",
            JPEG,
            hostile::mvg_imagetragick(),
            Expect::Reject(TypeNotAllowed),
            false,
            "ImageTragick MVG",
        ),
        Case(
            "exe_as_jpg",
            "setup.jpg",
            JPEG,
            hostile::exe(),
            Expect::Reject(TypeNotAllowed),
            false,
            "Windows executable",
        ),
        Case(
            "zip_as_png",
            "archive.png",
            PNG,
            hostile::zip(),
            Expect::Reject(TypeNotAllowed),
            false,
            "ZIP archive",
        ),
        Case(
            "pdf_as_jpg",
            "menu.jpg",
            JPEG,
            hostile::pdf(),
            Expect::Reject(TypeNotAllowed),
            false,
            "PDF with JavaScript",
        ),
        Case(
            "gif",
            "animation.gif",
            "image/gif",
            images::encode(ImageFormat::Gif, 64, 64),
            Expect::Reject(TypeNotAllowed),
            true,
            "GIF: not allowed",
        ),
        Case(
            "bmp",
            "scan.bmp",
            "image/bmp",
            images::encode(ImageFormat::Bmp, 64, 64),
            Expect::Reject(TypeNotAllowed),
            true,
            "BMP: not allowed",
        ),
        Case(
            "tiff",
            "scan.tiff",
            "image/tiff",
            images::encode(ImageFormat::Tiff, 64, 64),
            Expect::Reject(TypeNotAllowed),
            true,
            "TIFF: not allowed",
        ),
        Case(
            "gif_as_png",
            "animation.png",
            PNG,
            images::encode(ImageFormat::Gif, 64, 64),
            Expect::Reject(TypeNotAllowed),
            true,
            "GIF named and declared .png",
        ),
        Case(
            "jpeg_declared_png",
            "photo.png",
            PNG,
            images::jpeg(320, 240),
            Expect::Reject(TypeMismatch),
            true,
            "a JPEG declared as PNG",
        ),
        Case(
            "png_declared_webp",
            "logo.webp",
            WEBP,
            images::png(320, 240),
            Expect::Reject(TypeMismatch),
            true,
            "a PNG declared as WebP",
        ),
        Case(
            "jpeg_declared_image_jpg",
            "photo.jpg",
            "image/jpg",
            images::jpeg(320, 240),
            Expect::Reject(TypeMismatch),
            true,
            "image/jpg is not a type Vetted declares",
        ),
        Case(
            "too_large_20mib_plus_1",
            "huge-file.png",
            PNG,
            twenty_mib_and_one,
            Expect::Reject(TooLarge),
            false,
            "20 MiB + 1 byte",
        ),
    ])
}
