//! `ShareableList` on its own: Python's rules for reading and replacing items, the bytes
//! it lays out, processes sharing one list by name, and clear errors (never a panic) for
//! blocks that hold no list or a damaged one. `python_interop.rs` checks it against
//! Python itself.

use mp_shared_mem::{Error, Item, ItemFault, ListFault, ShareableList, SharedMemory};
use test_support::{ChildResult, DevShmCheck, ensure, spawn_child};

fn sample() -> Vec<Item> {
    vec![
        Item::Int(-42),
        Item::Float(2.5),
        Item::Bool(true),
        Item::Bool(false),
        Item::from("hello"),
        Item::from(b"\x00\x01\xff".as_slice()),
        Item::None,
        Item::from(""),
        Item::Int(i64::MAX),
    ]
}

#[test]
fn items_of_every_kind_read_back() {
    let _leftovers = DevShmCheck::start("mp_");
    let list = ShareableList::create(&sample()).unwrap();
    assert_eq!(list.len(), 9);
    assert_eq!(list.to_vec().unwrap(), sample());
    assert_eq!(list.format().unwrap(), "qdxxxxxxx?xxxxxxx?8s8sxxxxxx?x8sq");
    assert_eq!(list.count(&Item::Bool(true)).unwrap(), 1);
    assert_eq!(list.index(&Item::None).unwrap(), Some(6));
    assert_eq!(list.index(&Item::Int(0)).unwrap(), None);
    let attached = ShareableList::attach(list.name()).unwrap();
    assert_eq!(attached.to_vec().unwrap(), sample());
    assert!(format!("{attached:?}").contains("Int(-42)"));

    let empty = ShareableList::create(&[]).unwrap();
    assert!(empty.is_empty());
    assert_eq!(empty.shm().size(), 16);
    assert!(ShareableList::attach(empty.name()).unwrap().is_empty());
}

#[test]
fn the_bytes_are_those_python_lays_out() {
    let list = ShareableList::create(&[Item::Int(1), Item::from("ab"), Item::None]).unwrap();
    let mut expected = Vec::new();
    for word in [3i64, 0, 8, 16, 24, 1] {
        expected.extend_from_slice(&word.to_ne_bytes());
    }
    expected.extend_from_slice(b"ab\0\0\0\0\0\0"); // "ab" in an 8-byte slot
    expected.extend_from_slice(&[0; 8]); // None: pad bytes and a false
    expected.extend_from_slice(b"q\0\0\0\0\0\0\08s\0\0\0\0\0\0xxxxxx?x");
    expected.extend_from_slice(&[0, 1, 3]);
    assert_eq!(list.shm().to_vec(), expected);
}

#[test]
fn replacing_items_follows_pythons_rules() {
    let list = ShareableList::create(&[Item::Int(1), Item::from("twelve bytes")]).unwrap();
    assert_eq!(list.allotted(0).unwrap(), 8);
    assert_eq!(list.allotted(1).unwrap(), 16);

    // Any kind replaces any other; a str or bytes must fit the slot.
    list.set(0, Item::from("8 bytes!")).unwrap();
    assert_eq!(list.get(0).unwrap(), Item::from("8 bytes!"));
    assert_eq!(
        list.set(0, Item::from("nine byte")),
        Err(Error::ItemTooLarge {
            index: 0,
            len: 9,
            allotted: 8
        })
    );
    assert_eq!(list.get(0).unwrap(), Item::from("8 bytes!"));
    list.set(0, Item::Float(-0.5)).unwrap();
    list.set(1, Item::None).unwrap();
    assert_eq!(list.format().unwrap(), "dxxxxxx?x");
    list.set(1, Item::from(vec![7u8; 16])).unwrap();
    assert_eq!(list.get(1).unwrap(), Item::Bytes(vec![7; 16]));
    assert_eq!(list.format().unwrap(), "d16s");
    // Multi-byte UTF-8 counts in bytes.
    assert!(matches!(
        list.set(1, Item::from("ééééééééé")),
        Err(Error::ItemTooLarge { len: 18, .. })
    ));
    list.set(1, Item::from("éé")).unwrap();
    assert_eq!(list.get(1).unwrap(), Item::from("éé"));

    assert_eq!(
        list.get(2),
        Err(Error::IndexOutOfRange { index: 2, len: 2 })
    );
    assert_eq!(
        list.set(usize::MAX, Item::None),
        Err(Error::IndexOutOfRange {
            index: usize::MAX,
            len: 2
        })
    );
    assert_eq!(
        list.allotted(2),
        Err(Error::IndexOutOfRange { index: 2, len: 2 })
    );
}

#[test]
fn too_long_an_item_is_refused_at_creation() {
    let huge = Item::Bytes(vec![1; 10_000_000]);
    assert!(matches!(
        ShareableList::create(&[Item::None, huge]),
        Err(Error::ItemTooLarge { index: 1, .. })
    ));
    let largest = Item::Bytes(vec![1; 9_999_991]);
    let list = ShareableList::create(std::slice::from_ref(&largest)).unwrap();
    assert_eq!(list.format().unwrap(), "9999992s");
    assert_eq!(list.get(0).unwrap(), largest);
}

#[test]
fn forked_children_replace_their_own_items_by_name() {
    let _leftovers = DevShmCheck::start("mp_");
    let list = ShareableList::create(&vec![Item::None; 4]).unwrap();
    let name = list.name().to_string();
    let mut children: Vec<_> = (0..4i64)
        .map(|i| {
            let name = name.clone();
            spawn_child(move || -> ChildResult {
                let list = ShareableList::attach(&name).map_err(|_| 2u8)?;
                let item = match i % 3 {
                    0 => Item::Int(i * 10),
                    1 => Item::from("child"),
                    _ => Item::Bool(true),
                };
                list.set(i as usize, item).map_err(|_| 3u8)?;
                ensure(list.get(i as usize).is_ok(), 4)
            })
        })
        .collect();
    for child in &mut children {
        assert_eq!(child.join(), 0);
    }
    assert_eq!(
        list.to_vec().unwrap(),
        [
            Item::Int(0),
            Item::from("child"),
            Item::Bool(true),
            Item::Int(30)
        ]
    );
}

/// A block of `size` bytes under a fresh name, holding `words` from the start.
fn block_with(words: &[i64], size: usize) -> SharedMemory {
    let block = SharedMemory::create(size).unwrap();
    for (i, word) in words.iter().enumerate() {
        block.write_at(8 * i, &word.to_ne_bytes()).unwrap();
    }
    block
}

#[test]
fn blocks_that_hold_no_list_are_refused_with_a_reason() {
    let _leftovers = DevShmCheck::start("mp_");
    let cases: [(ListFault, SharedMemory); 6] = [
        (ListFault::TooSmallForHeader, block_with(&[], 4)),
        (ListFault::NegativeCount, block_with(&[-1], 64)),
        (ListFault::TooManyItems, block_with(&[1 << 40], 64)),
        (ListFault::OffsetsBackwards, block_with(&[2, 0, 16, 8], 512)),
        (ListFault::FirstOffsetNotZero, block_with(&[1, 8, 16], 512)),
        (ListFault::PastTheEnd, block_with(&[1, 0, 4096], 512)),
    ];
    for (expected, block) in &cases {
        match ShareableList::attach(block.name()) {
            Err(Error::NotAShareableList { fault }) => assert_eq!(fault, *expected),
            other => panic!("{expected}: {other:?}"),
        }
    }
    let garbage = SharedMemory::create(4096).unwrap();
    garbage.write_at(0, &[0xa5; 4096]).unwrap();
    assert!(matches!(
        ShareableList::attach(garbage.name()),
        Err(Error::NotAShareableList { .. })
    ));
    assert!(matches!(
        ShareableList::attach("no_such_shareable_list"),
        Err(Error::NotFound { .. })
    ));
}

#[test]
fn damaged_items_are_reported_and_a_set_repairs_them() {
    let list = ShareableList::create(&[Item::Int(5), Item::from("text")]).unwrap();
    let shm = list.shm();
    // Layout for two items: count and 3 offsets (32 bytes), 16 bytes of data, formats at
    // 48, codes at 64.
    let formats = 48;
    let codes = 64;

    shm.write_at(formats, b"zz\0\0\0\0\0\0").unwrap();
    assert_eq!(
        list.get(0),
        Err(Error::CorruptItem {
            index: 0,
            fault: ItemFault::UnknownFormat
        })
    );
    list.set(0, Item::Int(6)).unwrap();
    assert_eq!(list.get(0).unwrap(), Item::Int(6));

    shm.write_at(codes, &[9]).unwrap();
    assert_eq!(
        list.get(0),
        Err(Error::CorruptItem {
            index: 0,
            fault: ItemFault::UnknownCode
        })
    );
    shm.write_at(codes, &[1]).unwrap(); // an int format with the str code
    assert_eq!(
        list.get(0),
        Err(Error::CorruptItem {
            index: 0,
            fault: ItemFault::CodeMismatch
        })
    );
    list.set(0, Item::Int(7)).unwrap();

    shm.write_at(formats + 8, b"64s\0\0\0\0\0").unwrap(); // larger than the 8-byte slot
    assert_eq!(
        list.get(1),
        Err(Error::CorruptItem {
            index: 1,
            fault: ItemFault::FormatLargerThanSlot
        })
    );
    list.set(1, Item::from("ok")).unwrap();
    assert_eq!(list.format().unwrap(), "q8s");

    shm.write_at(32 + 8, b"\xff\xfe").unwrap(); // not UTF-8
    assert_eq!(
        list.get(1),
        Err(Error::CorruptItem {
            index: 1,
            fault: ItemFault::NotUtf8
        })
    );
    assert!(list.to_vec().is_err());
    assert!(format!("{list:?}").contains("damaged"));
}
