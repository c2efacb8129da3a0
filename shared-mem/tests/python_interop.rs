//! `SharedMemory` and Python's `multiprocessing.shared_memory.SharedMemory` see the same
//! bytes under the same name, both ways, and so do `ShareableList` and Python's
//! `ShareableList`. Runs `python3` (needed in CI).
//!
//! CPython 3.8-3.12 registers every block it *attaches* to with its resource tracker,
//! which unlinks it when the interpreter exits; the snippets unregister it (3.13 has
//! `track=False` for this).

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::Duration;

use mp_shared_mem::{Error, Item, ShareableList, SharedMemory};
use test_support::commands::wait_or_kill;
use test_support::{DevShmCheck, PATIENCE};

const ATTACH: &str = r#"
from multiprocessing import resource_tracker, shared_memory

def attach(name):
    try:
        return shared_memory.SharedMemory(name=name, track=False)
    except TypeError:
        shm = shared_memory.SharedMemory(name=name)
        resource_tracker.unregister(shm._name, "shared_memory")
        return shm
"#;

/// Writes to the block Rust made, after checking what Rust wrote.
const PYTHON_ATTACHES: &str = r#"
import sys
shm = attach(sys.argv[1])
assert shm.size == 4096, shm.size
assert bytes(shm.buf[:9]) == b"from rust", bytes(shm.buf[:9])
assert bytes(shm.buf[100:356]) == bytes(range(256))
shm.buf[1000:1011] = b"from python"
shm.close()
print("ok", flush=True)
"#;

/// Makes a block, lets Rust write into it, checks, and unlinks it.
const PYTHON_CREATES: &str = r#"
import sys
from multiprocessing import shared_memory
shm = shared_memory.SharedMemory(create=True, size=4096)
try:
    shm.buf[:11] = b"from python"
    shm.buf[500:756] = bytes(range(256))
    print(shm.name, flush=True)
    assert sys.stdin.readline().strip() == "written"
    assert bytes(shm.buf[2000:2009]) == b"from rust", bytes(shm.buf[2000:2009])
    print("ok", flush=True)
finally:
    shm.close()
    shm.unlink()
"#;

/// Reads and replaces the items of the list Rust made; Python's own `ValueError` for a
/// str too long for its slot.
const PYTHON_ATTACHES_TO_A_LIST: &str = r#"
import sys
from multiprocessing import resource_tracker, shared_memory
sl = shared_memory.ShareableList(name=sys.argv[1])
# Python registers a list it attaches to with its resource tracker too (3.8-3.13).
resource_tracker.unregister(sl.shm._name, "shared_memory")
expected = [42, -3.5, True, "hello", b"\x01\x02", None, "h\u00e9llo w\u00f6rld"]
assert list(sl) == expected, list(sl)
assert sl.format == "qdxxxxxxx?8s8sxxxxxx?x16s", sl.format
assert sl.count(True) == 1 and sl.index(None) == 5
sl[0] = "eight ch"
sl[1] = None
sl[2] = 2 ** 62
sl[3] = b"bytes!"
sl[5] = False
sl[6] = "\u00fcn\u00efcode"
try:
    sl[4] = "nine byte"
except ValueError:
    pass
else:
    raise AssertionError("an oversized str was accepted")
sl.shm.close()
print("ok", flush=True)
"#;

/// Makes a list, lets Rust check and replace its items, checks, and unlinks it.
const PYTHON_CREATES_A_LIST: &str = r#"
import sys
from multiprocessing import shared_memory
sl = shared_memory.ShareableList([7, 0.25, False, "from python", b"\x00\xff", None, 2 ** 63 - 1])
try:
    print(sl.shm.name, flush=True)
    assert sys.stdin.readline().strip() == "written"
    expected = [8, "str", True, "from rust!", b"\x07", 1.5, None]
    assert list(sl) == expected, list(sl)
    assert sl.format == "q8sxxxxxxx?16s8sdxxxxxx?x", sl.format
    print("ok", flush=True)
finally:
    sl.shm.close()
    sl.shm.unlink()
"#;

/// A running `python3`, killed and reaped if the test ends early. Its stdout comes line by
/// line through a channel (so every read is bounded), its stderr is kept for messages.
struct Python {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    stderr: Receiver<String>,
}

impl Python {
    fn run(script: &str, args: &[&str]) -> Self {
        let mut child = Command::new("python3")
            .arg("-c")
            .arg(format!("{ATTACH}\n{script}"))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("python3 must be installed to run the interop tests");
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("piped stdout");
        let mut stderr = child.stderr.take().expect("piped stderr");
        let (line_tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line_tx.send(line).is_err() {
                    break;
                }
            }
        });
        let (err_tx, stderr_text) = channel();
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            let _ = err_tx.send(text);
        });
        Self {
            child,
            stdin,
            lines,
            stderr: stderr_text,
        }
    }

    fn next_line(&mut self) -> String {
        match self.lines.recv_timeout(PATIENCE) {
            Ok(line) => line,
            Err(_) => panic!("python3 said nothing more: {}", self.finish_stderr()),
        }
    }

    fn send_line(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        writeln!(stdin, "{line}").expect("write to python3");
        stdin.flush().expect("flush to python3");
    }

    /// Waits (bounded) for a clean exit.
    fn wait_success(&mut self) {
        self.stdin.take();
        let Some(status) = wait_or_kill(&mut self.child, PATIENCE) else {
            panic!("python3 did not exit within {PATIENCE:?}")
        };
        assert!(status.success(), "python3 failed: {}", self.finish_stderr());
    }

    fn finish_stderr(&mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.stderr
            .recv_timeout(Duration::from_secs(5))
            .unwrap_or_default()
    }
}

impl Drop for Python {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

#[test]
fn python_attaches_to_a_block_made_in_rust_and_writes_into_it() {
    let _leftovers = DevShmCheck::start("");
    let block = SharedMemory::create(4096).unwrap();
    block.write_at(0, b"from rust").unwrap();
    let pattern: Vec<u8> = (0..=255).collect();
    block.write_at(100, &pattern).unwrap();

    let mut python = Python::run(PYTHON_ATTACHES, &[block.name()]);
    assert_eq!(python.next_line(), "ok");
    python.wait_success();

    let mut written = [0u8; 11];
    block.read_at(1000, &mut written).unwrap();
    assert_eq!(&written, b"from python");
    // Python's exit did not unlink the block it attached to.
    let name = block.name().to_string();
    assert!(std::path::Path::new("/dev/shm").join(&name).exists());
    drop(block);
    assert!(!std::path::Path::new("/dev/shm").join(&name).exists());
}

#[test]
fn rust_attaches_to_a_block_made_in_python_and_writes_into_it() {
    let _leftovers = DevShmCheck::start("");
    let mut python = Python::run(PYTHON_CREATES, &[]);
    let name = python.next_line();
    // Should anything below fail, the block must still go.
    struct Unlink(String);
    impl Drop for Unlink {
        fn drop(&mut self) {
            let _ = nix::sys::mman::shm_unlink(format!("/{}", self.0).as_str());
        }
    }
    let _cleanup = Unlink(name.clone());

    let block = SharedMemory::attach(&name).unwrap();
    assert_eq!(block.size(), 4096);
    let mut greeting = [0u8; 11];
    block.read_at(0, &mut greeting).unwrap();
    assert_eq!(&greeting, b"from python");
    let mut pattern = [0u8; 256];
    block.read_at(500, &mut pattern).unwrap();
    assert!(pattern.iter().enumerate().all(|(i, &b)| b == i as u8));

    block.write_at(2000, b"from rust").unwrap();
    python.send_line("written");
    assert_eq!(python.next_line(), "ok");
    python.wait_success();

    // Python unlinked its block; this mapping stays valid until dropped.
    assert!(!std::path::Path::new("/dev/shm").join(&name).exists());
    block.read_at(0, &mut greeting).unwrap();
    assert_eq!(&greeting, b"from python");
}

#[test]
fn python_reads_and_replaces_the_items_of_a_list_made_in_rust() {
    let _leftovers = DevShmCheck::start("");
    let list = ShareableList::create(&[
        Item::Int(42),
        Item::Float(-3.5),
        Item::Bool(true),
        Item::from("hello"),
        Item::from(b"\x01\x02".as_slice()),
        Item::None,
        Item::from("héllo wörld"),
    ])
    .unwrap();

    let mut python = Python::run(PYTHON_ATTACHES_TO_A_LIST, &[list.name()]);
    assert_eq!(python.next_line(), "ok");
    python.wait_success();

    assert_eq!(
        list.to_vec().unwrap(),
        [
            Item::from("eight ch"),
            Item::None,
            Item::Int(1 << 62),
            Item::from(b"bytes!".as_slice()),
            Item::from(b"\x01\x02".as_slice()),
            Item::Bool(false),
            Item::from("ünïcode"),
        ]
    );
    // Python's exit did not unlink the block it attached to; dropping the list does.
    let name = list.name().to_string();
    assert!(std::path::Path::new("/dev/shm").join(&name).exists());
    drop(list);
    assert!(!std::path::Path::new("/dev/shm").join(&name).exists());
}

#[test]
fn rust_reads_and_replaces_the_items_of_a_list_made_in_python() {
    let _leftovers = DevShmCheck::start("");
    let mut python = Python::run(PYTHON_CREATES_A_LIST, &[]);
    let name = python.next_line();
    struct Unlink(String);
    impl Drop for Unlink {
        fn drop(&mut self) {
            let _ = nix::sys::mman::shm_unlink(format!("/{}", self.0).as_str());
        }
    }
    let _cleanup = Unlink(name.clone());

    let items = [
        Item::Int(7),
        Item::Float(0.25),
        Item::Bool(false),
        Item::from("from python"),
        Item::from(b"\x00\xff".as_slice()),
        Item::None,
        Item::Int(i64::MAX),
    ];
    let list = ShareableList::attach(&name).unwrap();
    assert_eq!(list.to_vec().unwrap(), items);
    // Byte for byte what this crate lays out for the same items.
    let ours = ShareableList::create(&items).unwrap();
    assert_eq!(list.shm().to_vec(), ours.shm().to_vec());

    list.set(0, Item::Int(8)).unwrap();
    list.set(1, Item::from("str")).unwrap();
    list.set(2, Item::Bool(true)).unwrap();
    list.set(3, Item::from("from rust!")).unwrap();
    assert_eq!(
        list.set(3, Item::from("x".repeat(17))),
        Err(Error::ItemTooLarge {
            index: 3,
            len: 17,
            allotted: 16
        })
    );
    list.set(4, Item::from(vec![7u8])).unwrap();
    list.set(5, Item::Float(1.5)).unwrap();
    list.set(6, Item::None).unwrap();
    python.send_line("written");
    assert_eq!(python.next_line(), "ok");
    python.wait_success();
    assert!(!std::path::Path::new("/dev/shm").join(&name).exists());
}
