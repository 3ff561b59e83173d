//! Hostile input against the Vision routes of the real binary: zip bombs sent as custom-vision
//! uploads (honest and lying about their sizes, and with thousands of entries), and a flood of
//! Read operations on a large image, whose memory must stay bounded while they wait. Each ends
//! with the server still answering a normal request.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{Cursor, Write};
use std::time::{Duration, Instant};

use common::{ADMIN_KEY, Server, azure_error, status_json};
use image::{ImageFormat, Rgb, RgbImage};
use serde_json::{Value, json};
use zip::write::SimpleFileOptions;

const KEY: &str = "Ocp-Apim-Subscription-Key";
const TRAINING: &str = "/customvision/v3.3/training/projects";
const READ: &str = "/vision/v3.2/read/analyze";
const MB: usize = 1024 * 1024;

fn encode(image: &RgbImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    image.write_to(&mut out, format).unwrap();
    out.into_inner()
}

/// The server's process id.
fn server_pid(server: &Server) -> u32 {
    server.pid()
}

/// A field of /proc/<pid>/status in MiB (VmRSS, VmHWM).
fn memory_mib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with(field)).unwrap();
    line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() / 1024
}

/// Resets the process's peak resident size (VmHWM) to its current one.
fn reset_peak(pid: u32) {
    let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
}

/// The server still does real work: a small image analysed.
fn still_serving(server: &Server) {
    let image = RgbImage::from_fn(120, 90, |x, _| Rgb([if x < 60 { 240 } else { 10 }, 120, 40]));
    let r = server
        .post("/computervision/imageanalysis:analyze?api-version=2024-02-01&features=tags")
        .header(KEY, ADMIN_KEY)
        .header("Content-Type", "application/octet-stream")
        .body(encode(&image, ImageFormat::Png))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().unwrap_or_default());
}

fn upload_zip(server: &Server, project: &str, zip: Vec<u8>) -> (u16, Value, Duration) {
    let started = Instant::now();
    let (status, body) = status_json(
        server
            .post(&format!("{TRAINING}/{project}/images"))
            .header(KEY, ADMIN_KEY)
            .header("Content-Type", "application/zip")
            .body(zip)
            .send()
            .unwrap(),
    );
    (status, body, started.elapsed())
}

/// A zip of one entry, `name`, of `len` zero bytes (deflated: about 1,000 to 1).
fn zeros_zip(name: &str, len: usize) -> Vec<u8> {
    let mut archive = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default().compression_level(Some(6)).large_file(false);
    archive.start_file(name, options).unwrap();
    let block = vec![0u8; MB];
    for _ in 0..len / MB {
        archive.write_all(&block).unwrap();
    }
    archive.write_all(&block[..len % MB]).unwrap();
    archive.finish().unwrap().into_inner()
}

/// `copies` copies of a one-entry zip's entry, as `tag/<i>.png`, without deflating it again.
fn copies_zip(single: &[u8], copies: usize) -> Vec<u8> {
    let mut source = zip::ZipArchive::new(Cursor::new(single)).unwrap();
    let mut archive = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for i in 0..copies {
        archive.raw_copy_file_rename(source.by_index_raw(0).unwrap(), format!("bomb/{i}.png")).unwrap();
    }
    archive.finish().unwrap().into_inner()
}

/// Rewrites the uncompressed size of every entry, in the local and central headers, to `size`:
/// a zip that lies about what its entries unpack to.
fn lie_about_sizes(zip: &mut [u8], size: u32) {
    let mut at = 0;
    while at + 30 <= zip.len() {
        match &zip[at..at + 4] {
            b"PK\x03\x04" => zip[at + 22..at + 26].copy_from_slice(&size.to_le_bytes()),
            b"PK\x01\x02" => zip[at + 24..at + 28].copy_from_slice(&size.to_le_bytes()),
            _ => {}
        }
        at += 1;
    }
}

#[test]
fn zip_bombs_are_refused_quickly_and_the_server_keeps_serving() {
    let server = vision_only_server();
    let pid = server_pid(&server);
    let (status, project) =
        status_json(server.post(&format!("{TRAINING}?name=bombs")).header(KEY, ADMIN_KEY).send().unwrap());
    assert_eq!(status, 200, "{project}");
    let id = project["id"].as_str().unwrap().to_string();
    still_serving(&server);
    let rss_before = memory_mib(pid, "VmRSS");
    reset_peak(pid);

    // 64 entries of 20 MiB of zeros: 1.3 MB on the wire, 1.3 GB unpacked. Refused from the
    // declared sizes (over the total), before anything is inflated.
    let single = zeros_zip("bomb/0.png", 20 * MB);
    let bomb = copies_zip(&single, 64);
    assert!(bomb.len() < 2 * MB, "{}", bomb.len());
    let (status, body, took) = upload_zip(&server, &id, bomb);
    assert_eq!(status, 413, "{body}");
    assert_eq!(azure_error(&body)["innererror"]["code"], "RequestTooLarge", "{body}");
    assert!(took < Duration::from_secs(5), "{took:?}");

    // One entry of 200 MiB of zeros (about 200 KB deflated): over the per-image limit.
    let (status, body, took) = upload_zip(&server, &id, zeros_zip("bomb/big.png", 200 * MB));
    assert_eq!(status, 400, "{body}");
    assert_eq!(azure_error(&body)["innererror"]["code"], "InvalidImageSize", "{body}");
    assert!(took < Duration::from_secs(5), "{took:?}");

    // The same entries claiming 1,000 bytes each: caught while reading, at byte 1,001.
    let mut liar = copies_zip(&single, 64);
    lie_about_sizes(&mut liar, 1_000);
    let (status, body, took) = upload_zip(&server, &id, liar);
    assert_eq!(status, 400, "{body}");
    azure_error(&body);
    assert!(took < Duration::from_secs(5), "{took:?}");

    // Entries by the thousand (each a few dozen bytes): refused before the directory is parsed.
    let mut archive = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for i in 0..5_000 {
        archive.start_file(format!("t/{i}"), SimpleFileOptions::default()).unwrap();
    }
    let (status, body, took) = upload_zip(&server, &id, archive.finish().unwrap().into_inner());
    assert_eq!(status, 400, "{body}");
    assert!(azure_error(&body)["message"].as_str().unwrap().contains("entries"), "{body}");
    assert!(took < Duration::from_secs(5), "{took:?}");

    let peak = memory_mib(pid, "VmHWM");
    eprintln!("zip bombs: server RSS {rss_before} MiB before, peak {peak} MiB while refusing them");
    assert!(peak < rss_before + 256, "the server's peak grew from {rss_before} to {peak} MiB");
    still_serving(&server);
    // Nothing was stored.
    let (_, tags) = status_json(server.get(&format!("{TRAINING}/{id}/tags")).header(KEY, ADMIN_KEY).send().unwrap());
    assert_eq!(tags, json!([]));
}

/// Submits a Read operation, following 429/503's Retry-After; returns its result path.
fn submit_read(server: &Server, png: &[u8]) -> String {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let r = server
            .post(READ)
            .header(KEY, ADMIN_KEY)
            .header("Content-Type", "application/octet-stream")
            .body(png.to_vec())
            .send()
            .unwrap();
        let status = r.status().as_u16();
        if status == 202 {
            let location = r.headers()["Operation-Location"].to_str().unwrap();
            return location[location.find("/vision/").unwrap()..].to_string();
        }
        assert!(status == 429 || status == 503, "{status}: {}", r.text().unwrap_or_default());
        let retry: u64 = r.headers()["Retry-After"].to_str().unwrap().parse().unwrap();
        assert!(Instant::now() < deadline, "Read submissions were refused for two minutes");
        std::thread::sleep(Duration::from_secs(retry.clamp(1, 5)));
    }
}

fn read_status(server: &Server, path: &str) -> Value {
    let (status, body) = status_json(server.get(path).header(KEY, ADMIN_KEY).send().unwrap());
    assert_eq!(status, 200, "{body}");
    body
}

/// A server with only the Vision service (a smaller, steadier baseline); its OCR detector sees
/// images at most 640 pixels wide, so each operation is quick: what is measured is the memory of
/// the operations waiting, not of the OCR.
fn vision_only_server() -> Server {
    Server::start_with(
        common::fresh_db_path(),
        &[
            ("COGWAY__SERVICES__LANGUAGE", "false"),
            ("COGWAY__SERVICES__SPEECH", "false"),
            ("COGWAY__SERVICES__TRANSLATION", "false"),
            ("COGWAY__VISION__OCR_MAX_SIDE", "640"),
        ],
    )
}

#[test]
fn many_read_operations_on_a_large_image_keep_memory_bounded() {
    let server = vision_only_server();
    let pid = server_pid(&server);
    // 6,000 x 4,000 (72 MB decoded, a few hundred KB as PNG), a black bar for the OCR to find.
    let mut image = RgbImage::from_pixel(6_000, 4_000, Rgb([255, 255, 255]));
    for y in 100..160 {
        for x in 100..900 {
            image.put_pixel(x, y, Rgb([0, 0, 0]));
        }
    }
    let png = encode(&image, ImageFormat::Png);
    drop(image);
    // One operation first, so the models' own memory is in the baseline.
    let first = submit_read(&server, &png);
    let deadline = Instant::now() + Duration::from_secs(120);
    while read_status(&server, &first)["status"] != "succeeded" {
        assert!(Instant::now() < deadline, "the first Read operation did not finish");
        std::thread::sleep(Duration::from_millis(200));
    }
    let rss_before = memory_mib(pid, "VmRSS");
    reset_peak(pid);

    let operations = 16;
    let started = Instant::now();
    let paths: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| s.spawn(|| (0..operations / 4).map(|_| submit_read(&server, &png)).collect::<Vec<_>>()))
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    let submitted = started.elapsed();
    let rss_queued = memory_mib(pid, "VmRSS");
    let deadline = Instant::now() + Duration::from_secs(600);
    for path in &paths {
        loop {
            let body = read_status(&server, path);
            match body["status"].as_str().unwrap() {
                "succeeded" => break,
                "notStarted" | "running" => {}
                other => panic!("operation {other}: {body}"),
            }
            assert!(Instant::now() < deadline, "Read operations did not finish in 10 minutes");
            std::thread::sleep(Duration::from_millis(250));
        }
    }
    let peak = memory_mib(pid, "VmHWM");
    eprintln!(
        "{operations} Read operations of a 6000x4000 PNG ({} KB): submitted in {submitted:?}, all done in {:?}; \
         server RSS {rss_before} MiB before, {rss_queued} MiB once all were queued, peak {peak} MiB",
        png.len() / 1024,
        started.elapsed()
    );
    // Each waiting operation would hold 72 MB decoded (1.2 GB for all); at most a few are
    // decoded at once.
    assert!(peak < rss_before + 800, "the server's peak grew from {rss_before} to {peak} MiB");
    still_serving(&server);
}
