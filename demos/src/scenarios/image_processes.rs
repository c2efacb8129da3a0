//! 000 §4.2, an image-processing program: CPU-bound work, so one process per image. Each
//! child runs `process_image(image_path, result_path)`: read the image, process it, write
//! the result. The parent starts one child per (input, output) pair, then joins them all.
//!
//! The original reads and writes with OpenCV and leaves the processing to the reader
//! (`# 图像处理代码`, "image processing code"). Here the `image` crate reads and writes,
//! and the processing is real: grayscale, then a Gaussian blur. By default the scenario
//! first makes its inputs, `image1.jpg` and `image2.jpg` (colour gradients with stripes),
//! in its output folder; image paths given on the command line are processed instead.
//! Results are written next to the generated inputs as `result1.png`, `result2.png`, ...:
//! PNG rather than the original's JPEG, because PNG is lossless, so the check can be
//! exact.
//!
//! Checked: every child succeeded, and every result file decodes to exactly the image
//! that the same processing of the same input gives in the parent.

use std::path::{Path, PathBuf};

use image::{DynamicImage, ImageFormat};
use mp::processes::Process;

use super::process_support::{
    CHILD_LIMIT, Children, decode, encode, from_child, generated_image,
    process_image,
};
use crate::{ChildFailure, ChildResult, Context, DemoError, check_eq};

#[derive(clap::Parser)]
struct Args {
    /// Images to process (any format the build reads: PNG, JPEG) instead of generated ones.
    #[arg(value_name = "IMAGE")]
    paths: Vec<PathBuf>,
    /// How many images to generate when none are given (the original: 2).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=32))]
    images: u32,
    /// Width of the generated images, in pixels.
    #[arg(long, default_value_t = 400, value_parser = clap::value_parser!(u32).range(1..=4096))]
    width: u32,
    /// Height of the generated images, in pixels.
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u32).range(1..=4096))]
    height: u32,
}

/// The original's `process_image`, run in each child: read, process, write.
fn process_image_file(image_path: PathBuf, result_path: PathBuf) -> ChildResult<()> {
    let bytes = std::fs::read(&image_path)
        .map_err(|e| ChildFailure::new(format_args!("reading {}: {e}", image_path.display())))?;
    let image = decode(&bytes)
        .map_err(|e| ChildFailure::new(format_args!("{}: {e}", image_path.display())))?;
    let result = DynamicImage::ImageLuma8(process_image(&image));
    let png = encode(&result, ImageFormat::Png)?;
    std::fs::write(&result_path, png)
        .map_err(|e| ChildFailure::new(format_args!("writing {}: {e}", result_path.display())))?;
    println!(
        "pid {}: {} ({}x{}) -> {}",
        std::process::id(),
        image_path.display(),
        image.width(),
        image.height(),
        result_path.display()
    );
    Ok(())
}

/// Writes the generated inputs `image1.jpg`, `image2.jpg`, ... into `dir`.
fn generate_inputs(dir: &Path, args: &Args) -> Result<Vec<PathBuf>, DemoError> {
    (1..=args.images)
        .map(|i| {
            let path = dir.join(format!("image{i}.jpg"));
            let image = DynamicImage::ImageRgb8(generated_image(i, args.width, args.height));
            let jpeg = encode(&image, ImageFormat::Jpeg).map_err(DemoError::other)?;
            std::fs::write(&path, jpeg)
                .map_err(|e| DemoError::io(format!("writing {}", path.display()), e))?;
            Ok(path)
        })
        .collect()
}

/// The result `result` should hold: the parent's own processing of `input`.
fn check_result(input: &Path, result: &Path) -> Result<(), DemoError> {
    let read = |path: &Path| {
        let bytes = std::fs::read(path)
            .map_err(|e| DemoError::io(format!("reading {}", path.display()), e))?;
        decode(&bytes).map_err(|e| DemoError::CheckFailed(format!("{}: {e}", path.display())))
    };
    let expected = process_image(&read(input)?);
    let written = read(result)?;
    check_eq(
        format_args!("the size of {}", result.display()),
        (written.width(), written.height()),
        expected.dimensions(),
    )?;
    let same = written.to_luma8() == expected;
    check_eq(
        format_args!("whether {} is the processed {}", result.display(), input.display()),
        same,
        true,
    )
}

pub(crate) fn run(ctx: &Context) -> Result<(), DemoError> {
    let args: Args = ctx.parse_args()?;
    let dir = ctx.output_dir()?;
    let inputs = if args.paths.is_empty() {
        generate_inputs(&dir, &args)?
    } else {
        args.paths.clone()
    };
    // Absolute paths: the children need not share the parent's working directory.
    let absolute = |path: &Path| {
        std::path::absolute(path).map_err(|e| DemoError::io(format!("resolving {}", path.display()), e))
    };
    let mut images = Vec::new();
    for (i, input) in inputs.iter().enumerate() {
        images.push((absolute(input)?, absolute(&dir.join(format!("result{}.png", i + 1)))?));
    }

    let mut children = Children::new();
    for (input, result) in &images {
        children.start(Process::new(process_image_file, (input.clone(), result.clone())))?;
    }
    let names: Vec<String> = children.handles().iter().map(|h| h.name().to_owned()).collect();
    for (name, outcome) in names.iter().zip(children.join_all(CHILD_LIMIT)?) {
        from_child(name, outcome)?;
    }
    for (input, result) in &images {
        check_result(input, result)?;
    }
    println!(
        "{} image(s) processed by as many processes; every result decodes and matches",
        images.len()
    );
    Ok(())
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
    fn every_generated_image_is_processed_by_its_own_process() {
        let root = folder("image-processes");
        let ctx = Context::new("image-processes", vec!["--images=3".into(), "--width=120".into(), "--height=80".into()])
            .with_output_root(&root.0);
        run(&ctx).unwrap();
        let dir = root.0.join("image-processes");
        for i in 1..=3 {
            assert!(dir.join(format!("image{i}.jpg")).is_file());
            assert!(dir.join(format!("result{i}.png")).is_file());
        }
    }

    #[test]
    fn a_result_that_is_not_the_processed_image_fails_the_check() {
        let root = folder("image-check");
        std::fs::create_dir_all(&root.0).unwrap();
        let input = root.0.join("in.png");
        let image = DynamicImage::ImageRgb8(generated_image(0, 40, 30));
        std::fs::write(&input, encode(&image, ImageFormat::Png).unwrap()).unwrap();
        let result = root.0.join("out.png");
        // The unblurred grayscale: close, but not the processing.
        let wrong = DynamicImage::ImageLuma8(image.to_luma8());
        std::fs::write(&result, encode(&wrong, ImageFormat::Png).unwrap()).unwrap();
        assert!(check_result(&input, &result).is_err());
        std::fs::write(&result, b"truncated").unwrap();
        assert!(check_result(&input, &result).is_err());
        process_image_file(input.clone(), result.clone()).unwrap();
        check_result(&input, &result).unwrap();
    }

    #[test]
    fn an_input_that_is_not_an_image_fails_in_the_child() {
        let root = folder("image-bad-input");
        std::fs::create_dir_all(&root.0).unwrap();
        let input = root.0.join("not-an-image.jpg");
        std::fs::write(&input, b"hello").unwrap();
        let ctx = Context::new("image-processes", vec![input.display().to_string()])
            .with_output_root(&root.0);
        let err = run(&ctx).unwrap_err();
        assert!(err.to_string().contains("decoding"), "{err}");
        let missing = Context::new("image-processes", vec![root.0.join("missing.png").display().to_string()])
            .with_output_root(&root.0);
        assert!(run(&missing).is_err());
    }
}
