//! Named `SharedMemory`: creation, attachment, unlinking, every error path, and nothing
//! left in `/dev/shm`.

use std::os::unix::fs::PermissionsExt;
use std::sync::atomic::{AtomicU32, Ordering};

use mp_shared_mem::{Error, NameFault, SharedMemory};
use nix::fcntl::OFlag;
use nix::sys::mman::{shm_open, shm_unlink};
use nix::sys::stat::Mode;
use test_support::files::dev_shm_has;
use test_support::{
    Child, ChildResult, DevShmCheck, PATIENCE, SharedMapping, ensure, eventually, spawn_child,
};

fn unique(label: &str) -> String {
    format!("mp_test_{label}_{}", std::process::id())
}

#[test]
fn create_attach_and_the_creator_unlinks_on_drop() {
    let _leftovers = DevShmCheck::start("mp_");
    let block = SharedMemory::create(1000).unwrap();
    let name = block.name().to_string();
    assert!(name.starts_with("mp_") && !name.starts_with('/'));
    assert_eq!(block.size(), 1000);
    assert!(block.to_vec().iter().all(|&b| b == 0));
    assert!(dev_shm_has(&name));
    let mode = std::fs::metadata(format!("/dev/shm/{name}"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    block.write_at(10, b"hello").unwrap();
    let attached = SharedMemory::attach(&format!("/{name}")).unwrap();
    assert_eq!(attached.name(), name);
    assert_eq!(attached.size(), 1000);
    assert_eq!(&attached.to_vec()[10..15], b"hello");
    attached.write_at(999, &[7]).unwrap();
    assert_eq!(block.to_vec()[999], 7);

    // An attacher's drop leaves the name; the creator's removes it.
    drop(attached);
    assert!(dev_shm_has(&name));
    drop(block);
    assert!(!dev_shm_has(&name));
    assert!(matches!(
        SharedMemory::attach(&name),
        Err(Error::NotFound { .. })
    ));
}

#[test]
fn a_forked_child_attaches_by_name_and_writes() {
    let _leftovers = DevShmCheck::start("mp_");
    let block = SharedMemory::create(64).unwrap();
    let name = block.name().to_string();
    let mut child = spawn_child(move || -> ChildResult {
        let attached = SharedMemory::attach(&name).map_err(|_| 2u8)?;
        ensure(attached.size() == 64, 3)?;
        attached.write_at(0, b"from the child").map_err(|_| 4u8)
    });
    assert_eq!(child.join(), 0);
    assert_eq!(&block.to_vec()[..14], b"from the child");
}

#[test]
fn explicit_unlink_and_keeping_the_block() {
    let _leftovers = DevShmCheck::start("mp_");
    let block = SharedMemory::create(8).unwrap();
    let name = block.name().to_string();
    block.unlink().unwrap();
    assert!(!dev_shm_has(&name));
    assert!(matches!(block.unlink(), Err(Error::NotFound { .. })));
    block.write_at(0, b"mapped").unwrap();
    drop(block);

    let mut kept = SharedMemory::create(8).unwrap();
    kept.set_unlink_on_drop(false);
    let name = kept.name().to_string();
    drop(kept);
    assert!(dev_shm_has(&name));
    let mut attached = SharedMemory::attach(&name).unwrap();
    attached.set_unlink_on_drop(true);
    drop(attached);
    assert!(!dev_shm_has(&name));
}

#[test]
fn named_creation_and_its_errors() {
    let _leftovers = DevShmCheck::start("mp_");
    let name = unique("named");
    let block = SharedMemory::create_named(&name, 32).unwrap();
    assert_eq!(block.name(), name);
    assert_eq!(
        SharedMemory::create_named(&format!("/{name}"), 32).unwrap_err(),
        Error::AlreadyExists { name: name.clone() }
    );
    drop(block);
    assert!(!dev_shm_has(&name));

    assert_eq!(
        SharedMemory::create_named(&unique("zero"), 0).unwrap_err(),
        Error::ZeroSize
    );
    assert!(!dev_shm_has(&unique("zero")));
    assert_eq!(SharedMemory::create(0).unwrap_err(), Error::ZeroSize);
    for (bad, expected) in [
        ("", NameFault::Empty),
        ("/", NameFault::Empty),
        ("a/b", NameFault::InnerSlash),
        ("x\0y", NameFault::Nul),
        ("..", NameFault::DotName),
    ] {
        assert!(
            matches!(
                SharedMemory::create_named(bad, 8),
                Err(Error::InvalidName { fault, .. }) if fault == expected
            ),
            "{bad:?}"
        );
        assert!(matches!(
            SharedMemory::attach(bad),
            Err(Error::InvalidName { .. })
        ));
    }
    assert!(matches!(
        SharedMemory::create_named(&unique("huge"), usize::MAX),
        Err(Error::TooLarge { .. })
    ));
    assert!(!dev_shm_has(&unique("huge")));
}

#[test]
fn attach_errors() {
    assert_eq!(
        SharedMemory::attach(&unique("missing")).unwrap_err(),
        Error::NotFound {
            name: unique("missing")
        }
    );

    let block = SharedMemory::create(100).unwrap();
    assert_eq!(
        SharedMemory::attach_sized(block.name(), 50).unwrap_err(),
        Error::SizeMismatch {
            expected: 50,
            found: 100
        }
    );
    assert_eq!(
        SharedMemory::attach_sized(block.name(), 100)
            .unwrap()
            .size(),
        100
    );

    // A block of zero bytes, as `shm_open` alone leaves it.
    let empty = unique("empty");
    let fd = shm_open(
        format!("/{empty}").as_str(),
        OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_RDWR,
        Mode::S_IRUSR | Mode::S_IWUSR,
    )
    .unwrap();
    drop(fd);
    let attached = SharedMemory::attach(&empty);
    shm_unlink(format!("/{empty}").as_str()).unwrap();
    assert_eq!(attached.unwrap_err(), Error::ZeroSize);
}

#[test]
fn bounds_and_bulk_access() {
    let mut block = SharedMemory::create(16).unwrap();
    assert!(matches!(
        block.write_at(15, b"ab"),
        Err(Error::OutOfBounds {
            offset: 15,
            len: 2,
            size: 16
        })
    ));
    let mut buf = [0u8; 17];
    assert!(block.read_at(0, &mut buf).is_err());
    // SAFETY: this block has a random name and no other handle: nothing else uses it.
    unsafe { block.as_mut_slice() }.copy_from_slice(&[3; 16]);
    // SAFETY: as above.
    assert_eq!(unsafe { block.as_slice() }, &[3; 16]);
    assert_eq!(block.bytes().len(), 16);
    assert!(format!("{block:?}").contains(block.name()));
}

// ---------------------------------------------------------------------------------------
// Reaping the blocks of creators that died
// ---------------------------------------------------------------------------------------

/// A forked child that creates the block `name` (handing it over first if `hand_over`),
/// says so, and waits to be killed; it leaves by itself, unlinking, if the test never
/// kills it.
fn creator_child(name: &str, hand_over: bool) -> Child {
    let created = SharedMapping::new(AtomicU32::new(0));
    let child = spawn_child(|| -> ChildResult {
        let mut block = SharedMemory::create_named(name, 64).map_err(|_| 2u8)?;
        block.set_unlink_on_drop(!hand_over);
        created.store(1, Ordering::SeqCst);
        std::thread::sleep(PATIENCE * 2);
        drop(block);
        Err(99)
    });
    eventually(|| created.load(Ordering::SeqCst) == 1, PATIENCE);
    child
}

/// The tests that reap orphans run one at a time: one test's sweep would reap another's
/// killed creator's block between that test's kill and its look at `/dev/shm`. The
/// process's own one-time sweep (at its first create or attach) is made to happen here,
/// first, for the same reason.
fn one_sweeper_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static SWEEPS: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let guard = SWEEPS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    drop(SharedMemory::create(1).expect("a block, to have the first sweep done"));
    guard
}

/// Whether `/dev/shm` holds a record naming process `pid` as a creator.
fn creator_recorded(pid: i32) -> bool {
    let prefix = format!("mp_creator.{pid}.");
    std::fs::read_dir("/dev/shm")
        .unwrap()
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .any(|name| name.starts_with(&prefix))
}

#[test]
fn the_block_of_a_killed_creator_is_reaped() {
    let _one_sweeper = one_sweeper_at_a_time();
    let leftovers = DevShmCheck::start("mp_");
    let name = unique("killed_creator");
    let mut creator = creator_child(&name, false);
    assert!(dev_shm_has(&name) && creator_recorded(creator.pid()));
    creator.kill_and_reap();
    assert!(dev_shm_has(&name), "SIGKILL left the block");
    SharedMemory::reap_orphans().unwrap();
    assert!(!dev_shm_has(&name));
    assert!(!creator_recorded(creator.pid()));
    leftovers.finish();
}

#[test]
fn the_block_of_a_live_creator_is_never_reaped() {
    let _one_sweeper = one_sweeper_at_a_time();
    let leftovers = DevShmCheck::start("mp_");
    let mine = SharedMemory::create(8).unwrap();
    let name = unique("live_creator");
    let mut creator = creator_child(&name, false);
    let reaped = SharedMemory::reap_orphans().unwrap();
    assert!(!reaped.contains(&name) && !reaped.iter().any(|n| n == mine.name()));
    assert!(dev_shm_has(&name) && dev_shm_has(mine.name()));
    creator.kill_and_reap();
    SharedMemory::reap_orphans().unwrap();
    assert!(!dev_shm_has(&name));
    assert!(dev_shm_has(mine.name()));
    drop(mine);
    leftovers.finish();
}

#[test]
fn a_block_still_mapped_is_reaped_only_after_its_last_user_is_gone() {
    let _one_sweeper = one_sweeper_at_a_time();
    let leftovers = DevShmCheck::start("mp_");
    let name = unique("still_mapped");
    let mut creator = creator_child(&name, false);
    let user = SharedMemory::attach(&name).unwrap();
    creator.kill_and_reap();
    let reaped = SharedMemory::reap_orphans().unwrap();
    assert!(!reaped.contains(&name));
    assert!(dev_shm_has(&name), "reaped under a live user");
    user.write_at(0, b"still here").unwrap();
    drop(user);
    // A child another test forked while `user` was mapped holds a copy of the mapping,
    // and is a user too until it ends: the block goes once the last of them is gone.
    test_support::eventually(
        || {
            SharedMemory::reap_orphans().unwrap();
            !dev_shm_has(&name)
        },
        test_support::PATIENCE,
    );
    leftovers.finish();
}

/// A forked child that attaches to the block `name`, says so, and waits to be killed; it
/// leaves by itself if the test never kills it.
fn user_child(name: &str) -> Child {
    let attached = SharedMapping::new(AtomicU32::new(0));
    let child = spawn_child(|| -> ChildResult {
        let block = SharedMemory::attach(name).map_err(|_| 2u8)?;
        attached.store(1, Ordering::SeqCst);
        std::thread::sleep(PATIENCE * 2);
        drop(block);
        Err(99)
    });
    eventually(|| attached.load(Ordering::SeqCst) == 1, PATIENCE);
    child
}

#[test]
fn a_block_attached_in_another_live_process_is_never_reaped() {
    let _one_sweeper = one_sweeper_at_a_time();
    let leftovers = DevShmCheck::start("mp_");
    let name = unique("live_user");
    let mut creator = creator_child(&name, false);
    let mut user = user_child(&name);
    creator.kill_and_reap();
    for _ in 0..3 {
        let reaped = SharedMemory::reap_orphans().unwrap();
        assert!(!reaped.contains(&name), "reaped under a live user");
        assert!(dev_shm_has(&name));
    }
    user.kill_and_reap();
    SharedMemory::reap_orphans().unwrap();
    assert!(!dev_shm_has(&name));
    leftovers.finish();
}

#[test]
fn a_block_whose_last_user_was_killed_is_reaped() {
    let _one_sweeper = one_sweeper_at_a_time();
    let leftovers = DevShmCheck::start("mp_");
    let name = unique("killed_user");
    let mut creator = creator_child(&name, false);
    let mut user = user_child(&name);
    user.kill_and_reap();
    creator.kill_and_reap();
    let reaped = SharedMemory::reap_orphans().unwrap();
    assert!(
        reaped.contains(&name),
        "a SIGKILLed user kept the block: {reaped:?}"
    );
    assert!(!dev_shm_has(&name));
    leftovers.finish();
}

#[test]
fn a_block_handed_over_is_never_reaped() {
    let _one_sweeper = one_sweeper_at_a_time();
    let leftovers = DevShmCheck::start("mp_");
    let name = unique("handed_over");
    let mut creator = creator_child(&name, true);
    assert!(!creator_recorded(creator.pid()));
    creator.kill_and_reap();
    SharedMemory::reap_orphans().unwrap();
    assert!(dev_shm_has(&name), "a handed-over block was reaped");
    // Whoever takes it over unlinks it (and would be the one whose death lets it go).
    let mut taken = SharedMemory::attach(&name).unwrap();
    taken.set_unlink_on_drop(true);
    assert!(creator_recorded(std::process::id() as i32));
    drop(taken);
    assert!(!dev_shm_has(&name));
    leftovers.finish();
}
