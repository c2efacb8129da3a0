//! 003, a real example, downloading images with several processes: one process per image
//! URL runs `download_image(url, filename)`, which gets the URL with an HTTP client,
//! writes the bytes to `image_<i>.jpg` and prints `<filename> 下载完成` ("downloaded");
//! the parent starts them all, joins them all and prints `所有图片下载完成!` ("all images
//! downloaded!").
//!
//! The original downloads from `https://example.com/image1.jpg` and the like, which do
//! not exist. Here, by default, the scenario serves three generated JPEG images from its
//! own HTTP server on 127.0.0.1 (a port the OS picks), and each child downloads one with
//! `ureq`, into the scenario's output folder. URLs given on the command line are
//! downloaded instead, from the network.
//!
//! Checked: every child succeeded, every file exists and decodes as an image; from the
//! local server, every file holds exactly the bytes served and the server served each
//! once; from given URLs, every file holds as many bytes as its child received.

use std::path::{Path, PathBuf};
use std::time::Duration;

use image::{DynamicImage, ImageFormat};
use mp::processes::Process;

use super::process_support::{
    CHILD_LIMIT, Children, FileServer, ServedFile, decode, encode, from_child,
    generated_image,
};
use crate::{ChildFailure, ChildResult, Context, DemoError, check_eq};

#[derive(clap::Parser)]
struct Args {
    /// Download these image URLs (from the network) instead of the local server's images.
    #[arg(value_name = "URL")]
    urls: Vec<String>,
    /// How many images the local server serves, one process downloading each (the
    /// original: 3).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=32))]
    images: u32,
}

/// How long one download may take before it counts as failed.
const DOWNLOAD_LIMIT: Duration = Duration::from_secs(60);

/// The largest image a child accepts; a larger body is an error, not a full disk.
const MAX_IMAGE_BYTES: u64 = 64 * 1024 * 1024;

/// The original's `download_image`, run in each child; returns how many bytes it wrote.
///
/// `direct`: go straight to the server, whatever proxy the environment names (for the
/// local server on 127.0.0.1).
fn download_image(url: String, filename: PathBuf, direct: bool) -> ChildResult<u64> {
    let mut config = ureq::Agent::config_builder().timeout_global(Some(DOWNLOAD_LIMIT));
    if direct {
        config = config.proxy(None);
    }
    let agent: ureq::Agent = config.build().into();
    let mut response = agent
        .get(&url)
        .call()
        .map_err(|e| ChildFailure::new(format_args!("GET {url}: {e}")))?;
    let content = response
        .body_mut()
        .with_config()
        .limit(MAX_IMAGE_BYTES)
        .read_to_vec()
        .map_err(|e| ChildFailure::new(format_args!("reading the body of {url}: {e}")))?;
    std::fs::write(&filename, &content)
        .map_err(|e| ChildFailure::new(format_args!("writing {}: {e}", filename.display())))?;
    let name = filename.file_name().unwrap_or(filename.as_os_str());
    println!("{} 下载完成 (downloaded by pid {})", name.display(), std::process::id());
    Ok(content.len() as u64)
}

/// Starts one child per URL, saving URL `i` as `image_<i>.jpg` in `dir`; returns the
/// files and the byte counts the children reported.
fn download_all(urls: &[String], dir: &Path, direct: bool) -> Result<Vec<(PathBuf, u64)>, DemoError> {
    let dir = std::path::absolute(dir)
        .map_err(|e| DemoError::io(format!("resolving {}", dir.display()), e))?;
    let files: Vec<PathBuf> = (0..urls.len()).map(|i| dir.join(format!("image_{i}.jpg"))).collect();
    let mut children = Children::new();
    for (url, file) in urls.iter().zip(&files) {
        children.start(Process::new(download_image, (url.clone(), file.clone(), direct)))?;
    }
    let names: Vec<String> = children.handles().iter().map(|h| h.name().to_owned()).collect();
    let mut saved = Vec::new();
    for ((name, file), outcome) in names.iter().zip(files).zip(children.join_all(CHILD_LIMIT)?) {
        saved.push((file, from_child(name, outcome)?));
    }
    println!("所有图片下载完成! (all images downloaded)");
    Ok(saved)
}

/// Checks that `file` exists, holds `len` bytes and decodes as an image; returns its bytes.
fn check_saved(file: &Path, len: u64) -> Result<Vec<u8>, DemoError> {
    let bytes = std::fs::read(file)
        .map_err(|e| DemoError::CheckFailed(format!("{} was not saved: {e}", file.display())))?;
    check_eq(format_args!("the size of {}", file.display()), bytes.len() as u64, len)?;
    let image = decode(&bytes).map_err(|e| DemoError::CheckFailed(format!("{}: {e}", file.display())))?;
    println!("{}: {} bytes, a {}x{} image", file.display(), bytes.len(), image.width(), image.height());
    Ok(bytes)
}

fn download_local(images: u32, dir: &Path) -> Result<(), DemoError> {
    let served: Vec<ServedFile> = (1..=images)
        .map(|i| {
            let image = DynamicImage::ImageRgb8(generated_image(i, 320, 240));
            Ok(ServedFile {
                path: format!("/image{i}.jpg"),
                content_type: "image/jpeg",
                bytes: encode(&image, ImageFormat::Jpeg).map_err(DemoError::other)?,
            })
        })
        .collect::<Result<_, DemoError>>()?;
    let expected: Vec<Vec<u8>> = served.iter().map(|file| file.bytes.clone()).collect();
    let paths: Vec<String> = served.iter().map(|file| file.path.clone()).collect();
    let server = FileServer::start(served)?;
    let urls: Vec<String> = paths.iter().map(|path| server.url(path)).collect();
    println!("a local server serves {} generated images: {}", urls.len(), urls.join(", "));

    let saved = download_all(&urls, dir, true);
    // Stopped and joined before anything is checked, so it never outlives the scenario.
    let answered = server.shutdown();
    let saved = saved?;

    check_eq("the files saved", saved.len(), expected.len())?;
    for ((file, len), served) in saved.iter().zip(&expected) {
        let bytes = check_saved(file, *len)?;
        check_eq(
            format_args!("whether {} holds the bytes served", file.display()),
            &bytes == served,
            true,
        )?;
    }
    check_eq("the images the server served", answered, images)
}

pub(crate) fn run(ctx: &Context) -> Result<(), DemoError> {
    let args: Args = ctx.parse_args()?;
    let dir = ctx.output_dir()?;
    if args.urls.is_empty() {
        return download_local(args.images, &dir);
    }
    let saved = download_all(&args.urls, &dir, false)?;
    for (file, len) in &saved {
        check_saved(file, *len)?;
    }
    check_eq("the files saved", saved.len(), args.urls.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Folder(PathBuf);
    impl Drop for Folder {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    fn folder(test: &str) -> Folder {
        Folder(std::env::temp_dir().join(format!("mp-demos-{test}-{}", std::process::id())))
    }

    #[test]
    fn every_image_is_downloaded_by_its_own_process() {
        let root = folder("download-processes");
        let ctx = Context::new("download-processes", vec![]).with_output_root(&root.0);
        run(&ctx).unwrap();
        for i in 0..3 {
            assert!(root.0.join(format!("download-processes/image_{i}.jpg")).is_file());
        }
    }

    #[test]
    fn given_urls_are_downloaded_and_checked() {
        let root = folder("download-given");
        let image = DynamicImage::ImageRgb8(generated_image(7, 50, 40));
        let png = encode(&image, ImageFormat::Png).unwrap();
        let server = FileServer::start(vec![ServedFile {
            path: "/seven.png".into(),
            content_type: "image/png",
            bytes: png.clone(),
        }])
        .unwrap();
        let ctx = Context::new("download-processes", vec![server.url("/seven.png")])
            .with_output_root(&root.0);
        run(&ctx).unwrap();
        let saved = std::fs::read(root.0.join("download-processes/image_0.jpg")).unwrap();
        assert_eq!(saved, png);
        assert_eq!(server.shutdown(), 1);
    }

    #[test]
    fn a_url_that_is_not_an_image_fails_the_check() {
        let root = folder("download-not-image");
        let server = FileServer::start(vec![ServedFile {
            path: "/page.html".into(),
            content_type: "text/html",
            bytes: b"<html>not an image</html>".to_vec(),
        }])
        .unwrap();
        let ctx = Context::new("download-processes", vec![server.url("/page.html")])
            .with_output_root(&root.0);
        let err = run(&ctx).unwrap_err();
        assert!(err.to_string().contains("decoding"), "{err}");
        let missing = Context::new("download-processes", vec![server.url("/missing.jpg")])
            .with_output_root(&root.0);
        let err = run(&missing).unwrap_err();
        assert!(err.to_string().contains("404"), "{err}");
        assert_eq!(server.shutdown(), 1);
    }
}
