//! Uploaded product images: what a file is (its format sniffed from its bytes, never from
//! its name; its size read from its header before anything is decoded), where it is kept
//! (`media_dir`, each file named by the SHA-256 of its bytes, so a name is immutable and
//! the same picture uploaded twice is kept once), its thumbnail (made by a job), and the
//! rows of `product_images` that name the files.
//!
//! Files and rows stay in step through the writer: a unit that adds a row makes sure its
//! file is there (writing it again in the rare case a sweep removed it a moment before),
//! and the sweep that removes a file no row names any more runs its check and its removal
//! inside a writer unit too — so a file is never removed while a row names it.

pub mod handlers;

use std::io::{Cursor, Write};
use std::path::PathBuf;

use anyhow::Context;
use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The picture formats the shop takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Jpeg,
    Png,
    Webp,
}

impl Format {
    /// The format of a file, from its first bytes (its signature).
    pub fn sniff(bytes: &[u8]) -> Option<Format> {
        if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(Format::Jpeg)
        } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(Format::Png)
        } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
            Some(Format::Webp)
        } else {
            None
        }
    }

    pub fn ext(self) -> &'static str {
        match self {
            Format::Jpeg => "jpg",
            Format::Png => "png",
            Format::Webp => "webp",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Jpeg => "image/jpeg",
            Format::Png => "image/png",
            Format::Webp => "image/webp",
        }
    }

    fn of_ext(ext: &str) -> Option<Format> {
        [Format::Jpeg, Format::Png, Format::Webp].into_iter().find(|f| f.ext() == ext)
    }

    fn image(self) -> image::ImageFormat {
        match self {
            Format::Jpeg => image::ImageFormat::Jpeg,
            Format::Png => image::ImageFormat::Png,
            Format::Webp => image::ImageFormat::WebP,
        }
    }
}

/// The widest or tallest picture taken, in pixels a side.
pub const MAX_SIDE: u32 = 12_000;
/// The most pixels a picture taken may have (a small file that unpacks to gigabytes is
/// refused from its header, before it is decoded).
pub const MAX_PIXELS: u64 = 40_000_000;
/// A thumbnail's longest side.
pub const THUMBNAIL_SIDE: u32 = 480;
/// Images one product may have.
pub const MAX_IMAGES: i64 = 20;
/// The longest alternative text.
pub const MAX_ALT: usize = 300;

/// A stored file's name: the SHA-256 of its bytes (hex) and its format's extension.
pub fn name_of(bytes: &[u8], format: Format) -> String {
    format!("{:x}.{}", Sha256::digest(bytes), format.ext())
}

/// The format of a stored file's name, if it is a name this shop gives.
pub fn parse_name(name: &str) -> Option<Format> {
    let (hash, ext) = name.split_once('.')?;
    if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return None;
    }
    Format::of_ext(ext)
}

/// Where a stored file is served.
pub fn url_of(name: &str) -> String {
    format!("/media/{name}")
}

/// What an upload is: its format (sniffed) and size in pixels (from its header). The
/// error says, in words, why it is not a picture the shop takes.
pub fn inspect(bytes: &[u8]) -> Result<(Format, u32, u32), Refused> {
    let format = Format::sniff(bytes).ok_or(Refused::Format)?;
    let reader = image::ImageReader::with_format(Cursor::new(bytes), format.image());
    let (w, h) = reader
        .into_dimensions()
        .map_err(|_| Refused::Broken(format!("the file starts as {} but its header cannot be read", format.ext())))?;
    if w == 0 || h == 0 {
        return Err(Refused::Broken("the picture has no pixels".into()));
    }
    if w > MAX_SIDE || h > MAX_SIDE || u64::from(w) * u64::from(h) > MAX_PIXELS {
        return Err(Refused::Broken(format!(
            "the picture is {w}×{h} pixels; at most {MAX_SIDE} a side and {} megapixels",
            MAX_PIXELS / 1_000_000
        )));
    }
    Ok((format, w, h))
}

/// Why an upload is not taken.
#[derive(Debug)]
pub enum Refused {
    /// not JPEG, PNG or WebP
    Format,
    /// a picture's signature, but not a picture the shop can use
    Broken(String),
}

/// A thumbnail of a stored picture (its longest side [`THUMBNAIL_SIDE`], in its own
/// format); `None` when the picture is no larger than that already.
pub fn thumbnail(bytes: &[u8], format: Format) -> anyhow::Result<Option<Vec<u8>>> {
    let mut reader = image::ImageReader::with_format(Cursor::new(bytes), format.image());
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_PIXELS * 8);
    reader.limits(limits);
    let picture = reader.decode().context("decoding the picture")?;
    if picture.width() <= THUMBNAIL_SIDE && picture.height() <= THUMBNAIL_SIDE {
        return Ok(None);
    }
    let small = picture.thumbnail(THUMBNAIL_SIDE, THUMBNAIL_SIDE);
    let mut out = Vec::new();
    match format {
        Format::Jpeg => {
            let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 82);
            image::DynamicImage::ImageRgb8(small.to_rgb8()).write_with_encoder(encoder)?;
        }
        Format::Png => {
            let encoder = image::codecs::png::PngEncoder::new(&mut out);
            image::DynamicImage::ImageRgba8(small.to_rgba8()).write_with_encoder(encoder)?;
        }
        Format::Webp => {
            let encoder = image::codecs::webp::WebPEncoder::new_lossless(&mut out);
            image::DynamicImage::ImageRgba8(small.to_rgba8()).write_with_encoder(encoder)?;
        }
    }
    Ok(Some(out))
}

/// The directory of stored files.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
}

impl Store {
    pub fn new(dir: PathBuf) -> Store {
        Store { dir }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    pub fn has(&self, name: &str) -> bool {
        self.path(name).is_file()
    }

    /// Keeps `bytes` as `name` unless it is there already (a name is its bytes' hash):
    /// written to a temporary file, synced, renamed into place, the directory synced.
    pub fn put(&self, name: &str, bytes: &[u8]) -> std::io::Result<()> {
        if self.has(name) {
            return Ok(());
        }
        std::fs::create_dir_all(&self.dir)?;
        let tmp = self.dir.join(format!(".{name}.{}.tmp", std::process::id()));
        let written = (|| {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(bytes)?;
            f.sync_all()?;
            std::fs::rename(&tmp, self.path(name))?;
            std::fs::File::open(&self.dir)?.sync_all()
        })();
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        written
    }

    /// Removes `name` if it is there.
    pub fn remove(&self, name: &str) -> std::io::Result<()> {
        match std::fs::remove_file(self.path(name)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

/// One image of a product, as administrators see it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ImageOut {
    pub id: crate::domain::Id,
    /// the picture as uploaded (`/media/{hash}.{ext}`, cached for good), or the address
    /// it was given by
    pub url: String,
    /// the thumbnail's address (the picture's own until its thumbnail is made)
    pub thumbnail: String,
    pub alt: String,
    /// 0 is the product's primary image, shown in lists
    pub position: i64,
    /// false while its thumbnail is being made
    pub thumbnail_ready: bool,
}

/// The images of a product, in order.
pub fn images_of(conn: &Connection, product: i64) -> rusqlite::Result<Vec<ImageOut>> {
    conn.prepare_cached(
        "SELECT id, url, thumbnail_url, alt, position, media IS NULL OR thumbnail_media IS NOT NULL
         FROM product_images WHERE product_id = ?1 ORDER BY position",
    )?
    .query_map([product], |r| {
        Ok(ImageOut {
            id: crate::domain::Id(r.get(0)?),
            url: r.get(1)?,
            thumbnail: r.get(2)?,
            alt: r.get(3)?,
            position: r.get(4)?,
            thumbnail_ready: r.get(5)?,
        })
    })?
    .collect()
}

/// The stored files a row names (the picture and, when made, its thumbnail).
pub fn files_of(conn: &Connection, product: i64, image: i64) -> rusqlite::Result<Option<Vec<String>>> {
    conn.prepare_cached("SELECT media, thumbnail_media FROM product_images WHERE id = ?1 AND product_id = ?2")?
        .query_row([image, product], |r| {
            let (a, b): (Option<String>, Option<String>) = (r.get(0)?, r.get(1)?);
            Ok(a.into_iter().chain(b).collect::<Vec<_>>())
        })
        .optional()
}

/// Whether any row names the stored file `name`.
pub fn named(conn: &Connection, name: &str) -> rusqlite::Result<bool> {
    conn.prepare_cached(
        "SELECT EXISTS(SELECT 1 FROM product_images WHERE media = ?1)
             OR EXISTS(SELECT 1 FROM product_images WHERE thumbnail_media = ?1)",
    )?
    .query_row([name], |r| r.get(0))
}

/// The thumbnail already made for the stored picture `name` (by another image of the same
/// bytes): its address and file.
pub fn made_thumbnail(conn: &Connection, name: &str) -> rusqlite::Result<Option<(String, String)>> {
    conn.prepare_cached(
        "SELECT thumbnail_url, thumbnail_media FROM product_images
         WHERE media = ?1 AND thumbnail_media IS NOT NULL LIMIT 1",
    )?
    .query_row([name], |r| Ok((r.get(0)?, r.get(1)?)))
    .optional()
}

/// How many images product `product` has.
pub fn count(conn: &Connection, product: i64) -> rusqlite::Result<i64> {
    conn.prepare_cached("SELECT count(*) FROM product_images WHERE product_id = ?1")?.query_row([product], |r| r.get(0))
}

/// Adds a stored picture as the product's last image; `thumbnail`: one already made.
pub fn insert(
    conn: &Connection,
    product: i64,
    name: &str,
    alt: &str,
    thumbnail: Option<(String, String)>,
) -> rusqlite::Result<i64> {
    let position = count(conn, product)?;
    let (thumb_url, thumb_media) = match thumbnail {
        Some((url, media)) => (url, Some(media)),
        None => (url_of(name), None),
    };
    conn.prepare_cached(
        "INSERT INTO product_images(product_id, url, thumbnail_url, alt, position, media, thumbnail_media)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![product, url_of(name), thumb_url, alt, position, name, thumb_media])?;
    Ok(conn.last_insert_rowid())
}

/// Gives the product's images these positions, in this order (0, 1, …). Two steps, since
/// `(product_id, position)` is unique at every row's update.
fn renumber(conn: &Connection, product: i64, order: &[i64]) -> rusqlite::Result<()> {
    conn.prepare_cached("UPDATE product_images SET position = -1 - position WHERE product_id = ?1")?
        .execute([product])?;
    let mut set = conn.prepare_cached("UPDATE product_images SET position = ?1 WHERE id = ?2 AND product_id = ?3")?;
    for (i, id) in order.iter().enumerate() {
        set.execute(params![i as i64, id, product])?;
    }
    Ok(())
}

fn order_of(conn: &Connection, product: i64) -> rusqlite::Result<Vec<i64>> {
    conn.prepare_cached("SELECT id FROM product_images WHERE product_id = ?1 ORDER BY position")?
        .query_map([product], |r| r.get(0))?
        .collect()
}

/// Deletes an image and closes the gap in the order.
pub fn delete(conn: &Connection, product: i64, image: i64) -> rusqlite::Result<()> {
    conn.prepare_cached("DELETE FROM product_images WHERE id = ?1 AND product_id = ?2")?.execute([image, product])?;
    let order = order_of(conn, product)?;
    renumber(conn, product, &order)
}

/// Moves an image to `position` (past the end: last), the others keeping their order.
pub fn move_to(conn: &Connection, product: i64, image: i64, position: i64) -> rusqlite::Result<()> {
    let mut order = order_of(conn, product)?;
    order.retain(|id| *id != image);
    let at = usize::try_from(position).unwrap_or(0).min(order.len());
    order.insert(at, image);
    renumber(conn, product, &order)
}

pub fn set_alt(conn: &Connection, product: i64, image: i64, alt: &str) -> rusqlite::Result<()> {
    conn.prepare_cached("UPDATE product_images SET alt = ?1 WHERE id = ?2 AND product_id = ?3")?
        .execute(params![alt, image, product])?;
    Ok(())
}

/// Records the thumbnail made of the stored picture `name` on every image of it; how many.
pub fn set_thumbnail(conn: &Connection, name: &str, thumbnail: &str) -> rusqlite::Result<usize> {
    conn.prepare_cached(
        "UPDATE product_images SET thumbnail_url = ?1, thumbnail_media = ?2
         WHERE media = ?3 AND thumbnail_media IS NULL",
    )?
    .execute(params![url_of(thumbnail), thumbnail, name])
}

/// The thumbnail job's arguments.
#[derive(Debug, Serialize, Deserialize)]
pub struct ThumbnailArgs {
    /// the stored picture
    pub media: String,
}

/// The sweep job's arguments.
#[derive(Debug, Serialize, Deserialize)]
pub struct SweepArgs {
    /// stored files an image no longer names
    pub names: Vec<String>,
}

/// The thumbnail job: the picture decoded, made small, kept, and named on every image of
/// it (and so shown in every cached view) in one writer unit.
pub async fn thumbnail_job(app: &crate::app::AppState, a: ThumbnailArgs) -> anyhow::Result<serde_json::Value> {
    let format = parse_name(&a.media).context("not a stored file's name")?;
    let store = store_of(&app.config);
    let name = a.media.clone();
    let made = tokio::task::spawn_blocking(move || -> anyhow::Result<Option<(String, Vec<u8>)>> {
        let bytes = match std::fs::read(store.path(&name)) {
            Ok(b) => b,
            // swept: its images were deleted before the thumbnail was made
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).context("reading the picture"),
        };
        let Some(thumb) = thumbnail(&bytes, format)? else {
            return Ok(Some((name, bytes)));
        };
        let thumb_name = name_of(&thumb, format);
        store.put(&thumb_name, &thumb).context("keeping the thumbnail")?;
        Ok(Some((thumb_name, thumb)))
    })
    .await??;
    let Some((thumb_name, thumb)) = made else {
        return Ok(serde_json::json!({ "thumbnail": null, "images": 0 }));
    };
    let store = store_of(&app.config);
    let (media, t) = (a.media.clone(), thumb_name.clone());
    let images = app
        .db
        .writer
        .run(move |tx| {
            let n = set_thumbnail(tx, &media, &t)?;
            if n > 0 && !store.has(&t) {
                store.put(&t, &thumb).map_err(file_failed)?;
            } else if n == 0 && !named(tx, &t)? {
                // every image of the picture was deleted meanwhile: nothing names the thumbnail
                store.remove(&t).map_err(file_failed)?;
            }
            Ok::<_, crate::error::StoreError>(n)
        })
        .await?;
    Ok(serde_json::json!({ "thumbnail": url_of(&thumb_name), "images": images }))
}

/// The sweep job: each named file no image names any more is removed, checked and removed
/// in a writer unit (serialised with every unit that adds an image).
pub async fn sweep_job(app: &crate::app::AppState, a: SweepArgs) -> anyhow::Result<serde_json::Value> {
    let store = store_of(&app.config);
    let names: Vec<String> = a.names.into_iter().filter(|n| parse_name(n).is_some()).collect();
    let removed = app
        .db
        .writer
        .run(move |tx| {
            let mut removed = 0;
            for name in &names {
                if !named(tx, name)? && store.has(name) {
                    store.remove(name).map_err(file_failed)?;
                    removed += 1;
                }
            }
            Ok::<_, crate::error::StoreError>(removed)
        })
        .await?;
    Ok(serde_json::json!({ "removed": removed }))
}

/// A stored file that could not be written or removed: the writer unit fails with it.
fn file_failed(e: std::io::Error) -> crate::error::StoreError {
    crate::error::StoreError::Aborted(format!("media file: {e}"))
}

/// The directory a configuration keeps its files in.
pub fn store_of(config: &crate::config::Config) -> Store {
    Store::new(config.media_dir())
}

/// Whether `path` is the address of a stored file (the storefront shows those; an image
/// given by another address is shown as the product's tile).
pub fn is_stored_url(url: &str) -> bool {
    url.strip_prefix("/media/").is_some_and(|n| parse_name(n).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_sniffed_from_bytes_not_names() {
        assert_eq!(Format::sniff(b"\xFF\xD8\xFF\xE0rest"), Some(Format::Jpeg));
        assert_eq!(Format::sniff(b"\x89PNG\r\n\x1a\nrest"), Some(Format::Png));
        assert_eq!(Format::sniff(b"RIFF\x10\0\0\0WEBPVP8 "), Some(Format::Webp));
        assert_eq!(Format::sniff(b"GIF89a"), None);
        assert_eq!(Format::sniff(b"<svg xmlns="), None);
        assert_eq!(Format::sniff(b"RIFF\x10\0\0\0WAVE"), None);
    }

    #[test]
    fn only_names_this_shop_gives_parse() {
        let name = name_of(b"abc", Format::Png);
        assert_eq!(parse_name(&name), Some(Format::Png));
        assert!(name.starts_with("ba7816bf"));
        assert_eq!(parse_name("../etc/passwd"), None);
        assert_eq!(parse_name(&name.replace(".png", ".gif")), None);
        assert_eq!(parse_name(&name.to_uppercase()), None);
        assert_eq!(parse_name(&format!("x{name}")), None);
        assert!(is_stored_url(&url_of(&name)));
        assert!(!is_stored_url("/media/products/SKU-1/1.jpg"));
    }

    #[test]
    fn a_large_picture_gets_a_thumbnail_a_small_one_is_its_own() {
        let mut png = Vec::new();
        image::DynamicImage::new_rgb8(1200, 600).write_to(&mut Cursor::new(&mut png), image::ImageFormat::Png).unwrap();
        assert_eq!(inspect(&png).unwrap(), (Format::Png, 1200, 600));
        let t = thumbnail(&png, Format::Png).unwrap().unwrap();
        assert_eq!(inspect(&t).unwrap(), (Format::Png, 480, 240));
        assert!(thumbnail(&t, Format::Png).unwrap().is_none());
        // a header that claims a huge picture is refused before decoding
        let mut bomb = png.clone();
        bomb[16..20].copy_from_slice(&60_000u32.to_be_bytes());
        assert!(matches!(inspect(&bomb), Err(Refused::Broken(_))));
        assert!(matches!(inspect(b"\x89PNG\r\n\x1a\n"), Err(Refused::Broken(_))));
    }
}
