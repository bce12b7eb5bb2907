//! `photosift seed` end to end through the binary, without weights: the dry-run plan, the
//! message when there are no prompts, and the offline message naming the files to fetch.

use std::process::Command;

fn photosift(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_photosift"))
        .current_dir(dir)
        .env("HF_HOME", dir.join("hf"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn seed_dry_run_lists_the_plan_and_offline_run_says_what_to_fetch() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("config.toml"),
        "[seed]\nwant = [\"two friends on a mountain\"]\ndont_want = [\"blurry receipt\"]\n\
         images_per_prompt = 2\n",
    )
    .unwrap();
    let out = photosift(dir.path(), &["--library", "lib", "seed", "--dry-run"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let plan = String::from_utf8_lossy(&out.stdout);
    let images: Vec<&str> = plan.lines().filter(|l| l.starts_with("to generate")).collect();
    assert_eq!(images.len(), 4, "{plan}");
    assert!(
        plan.contains("want-two-friends-on-a-mountain-") && plan.contains("avoid-blurry-receipt-")
    );
    // Then the weights the run would need: none are on this machine.
    assert!(plan.contains("weights: 4 of 4 files are missing"), "{plan}");

    let out = photosift(dir.path(), &["--library", "lib", "seed", "--offline"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("https://huggingface.co/stabilityai/sd-turbo/resolve/main/"), "{err}");
    assert!(err.contains("models/hub"), "{err}");
}

#[test]
fn seed_without_prompts_explains_the_config() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.toml"), "").unwrap();
    let out = photosift(dir.path(), &["--library", "lib", "seed"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("[seed]") && err.contains("want ="), "{err}");
}

#[test]
fn example_folders_seed_offline_without_prompts_and_train_a_model() {
    let dir = tempfile::tempdir().unwrap();
    for (folder, shades) in [("printed", [20u8, 40, 60]), ("meh", [200u8, 220, 240])] {
        std::fs::create_dir_all(dir.path().join(folder)).unwrap();
        for (i, shade) in shades.into_iter().enumerate() {
            let img = image::RgbImage::from_fn(96, 64, |x, y| {
                image::Rgb([shade, (x * 2) as u8 ^ shade, (y * 3) as u8])
            });
            img.save(dir.path().join(folder).join(format!("{i}.jpg"))).unwrap();
        }
    }
    std::fs::write(
        dir.path().join("config.toml"),
        "[seed]\nexamples_want = [\"printed\"]\nexamples_dont_want = [\"meh\"]\ndownload = false\n",
    )
    .unwrap();
    let out = photosift(dir.path(), &["--library", "lib", "seed"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("example photos: 6 added, 0 already there"), "{stdout}");
    let again = photosift(dir.path(), &["--library", "lib", "seed"]);
    let stdout = String::from_utf8_lossy(&again.stdout);
    assert!(stdout.contains("example photos: 0 added, 6 already there"), "{stdout}");
    // Embedded like seed images: a model trains on them alone.
    let train = photosift(dir.path(), &["--library", "lib", "train"]);
    let stdout = String::from_utf8_lossy(&train.stdout);
    assert!(train.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&train.stderr));
    assert!(stdout.contains("0 yes, 0 no, 6 seed images"), "{stdout}");
}
