//! `ShareableList`: Python's `multiprocessing.shared_memory.ShareableList`, byte for byte.
//!
//! Why byte for byte: the point of the type is that a Python program and a Rust program
//! share one list by name. So the block holds exactly what CPython's
//! `Lib/multiprocessing/shared_memory.py` writes, in native byte order (an `int64`
//! is little-endian on every Linux target of this crate):
//!
//! | offset | bytes | what |
//! |---|---|---|
//! | 0 | 8 | the item count `n`, an `int64` |
//! | 8 | `8 * (n + 1)` | each slot's offset from the start of the data, then the data's length |
//! | `8 * (n + 2)` | the data's length | the values, each in a slot of a multiple of 8 bytes |
//! | after the data | `8 * n` | each item's `struct` format, NUL-padded |
//! | after the formats | `n` | each item's back-transform code (0 number or bool, 1 `str`, 2 `bytes`, 3 `None`) |

mod item;
mod slot;

use std::fmt;

pub use item::Item;
use slot::{Format, MAX_ALLOTMENT, Packing, WORD};

use crate::{Error, ItemFault, ListFault, SharedMemory};

/// A fixed-length list of numbers, booleans, strings, bytes and `None`s in a named block
/// of shared memory, laid out exactly as Python's `multiprocessing.shared_memory.ShareableList`:
/// a Python process attaches to a list made here by name and reads and writes it, and
/// the reverse.
///
/// Python's rules hold: the length is fixed; an item may be replaced by one of another
/// kind, but a `str` or `bytes` must fit the slot its position was given at creation
/// (the next multiple of 8 above the first item's length, 8 bytes for a number)
/// ([`Error::ItemTooLarge`] where Python raises `ValueError`); trailing NUL bytes of a
/// `str` or `bytes` are padding and do not come back.
///
/// Nothing orders the accesses of different processes, as in Python: use a lock beside
/// it. Reads and writes copy through atomic bytes, so a race is never undefined
/// behaviour, and an item half-written by another process is reported
/// ([`Error::CorruptItem`]) or read as it is, never a panic.
///
/// The creator unlinks the name when dropped (as [`SharedMemory`]);
/// [`set_unlink_on_drop`](ShareableList::set_unlink_on_drop) keeps it.
///
/// | Python | mp-shared-mem |
/// |---|---|
/// | `ShareableList([1, 2.5, True, "a", b"b", None])` | `ShareableList::create(&[1.into(), 2.5.into(), true.into(), "a".into(), b"b".as_slice().into(), Item::None])?` |
/// | `ShareableList(sequence, name="x")` | [`ShareableList::create_named("x", &items)`](ShareableList::create_named) |
/// | `ShareableList(name="x")` | [`ShareableList::attach("x")`](ShareableList::attach) |
/// | `sl[i]`, `sl[i] = v` | [`sl.get(i)?`](ShareableList::get), [`sl.set(i, v)?`](ShareableList::set) |
/// | `sl[-1]` | `sl.get(sl.len() - 1)?` |
/// | `len(sl)`, `list(sl)` | [`sl.len()`](ShareableList::len), [`sl.to_vec()?`](ShareableList::to_vec) |
/// | `sl.count(v)`, `sl.index(v)` | [`sl.count(&v)?`](ShareableList::count), [`sl.index(&v)?`](ShareableList::index) |
/// | `sl.format` | [`sl.format()?`](ShareableList::format) |
/// | `sl.shm.name`, `sl.shm` | [`sl.name()`](ShareableList::name), [`sl.shm()`](ShareableList::shm) |
/// | `sl.shm.close()`, `sl.shm.unlink()` | drop, [`sl.shm().unlink()?`](SharedMemory::unlink) |
///
/// ```
/// use mp_shared_mem::{Error, Item, ShareableList};
///
/// let list = ShareableList::create(&[7.into(), "seven".into(), Item::None])?;
/// let other = ShareableList::attach(list.name())?; // as Python's ShareableList(name=...)
/// other.set(0, 8.5.into())?;
/// other.set(2, "a str where None was".into()).unwrap_err(); // None's slot is 8 bytes
/// other.set(1, "eight".into())?;
/// assert_eq!(list.to_vec()?, [Item::Float(8.5), Item::Str("eight".into()), Item::None]);
/// assert_eq!(
///     list.set(1, "longer than 8".into()),
///     Err(Error::ItemTooLarge { index: 1, len: 13, allotted: 8 })
/// );
/// # Ok::<(), Error>(())
/// ```
pub struct ShareableList {
    shm: SharedMemory,
    /// Each slot's offset from the start of the data, then the data's length (`n + 1`
    /// values), as read at creation or attachment: they never change afterwards.
    offsets: Vec<usize>,
}

impl ShareableList {
    /// A new list holding `items`, in a block with a new random name (as Python's
    /// `ShareableList(items)`). Each `str` or `bytes` item gets a slot of the next multiple
    /// of 8 bytes above its length; [`Error::ItemTooLarge`] for one of more than 9,999,991
    /// bytes (its format would not fit in 8 characters, in Python either).
    ///
    /// A `str` gets room for its UTF-8 bytes. CPython 3.11 counts characters instead, so
    /// for text outside ASCII its own lists get too small a slot and it cuts the text
    /// short; a list made here holds the whole text, and Python reads it back whole.
    ///
    /// ```
    /// use mp_shared_mem::{Item, ShareableList};
    /// let list = ShareableList::create(&[Item::from("héllo"), Item::from(1)])?;
    /// assert_eq!(list.get(0)?, Item::from("héllo"));
    /// # Ok::<(), mp_shared_mem::Error>(())
    /// ```
    pub fn create(items: &[Item]) -> Result<Self, Error> {
        let plan = Plan::new(items)?;
        let shm = SharedMemory::create(plan.size())?;
        Self::fill(shm, plan, items)
    }

    /// As [`create`](ShareableList::create), under the name `name` (as Python's
    /// `ShareableList(items, name=name)`); [`Error::AlreadyExists`] if it is taken.
    ///
    /// ```
    /// use mp_shared_mem::{Item, ShareableList};
    /// let name = format!("doc_shareable_{}", std::process::id());
    /// let list = ShareableList::create_named(&name, &[Item::Bool(true)])?;
    /// assert_eq!(list.name(), name);
    /// # Ok::<(), mp_shared_mem::Error>(())
    /// ```
    pub fn create_named(name: &str, items: &[Item]) -> Result<Self, Error> {
        let plan = Plan::new(items)?;
        let shm = SharedMemory::create_named(name, plan.size())?;
        Self::fill(shm, plan, items)
    }

    /// Attaches to the list in the block named `name`, made by this crate or by Python (as
    /// Python's `ShareableList(name=name)`). [`Error::NotFound`] if there is no such
    /// block; [`Error::NotAShareableList`] if its header (item count, offsets) does not
    /// describe a list that fits in the block.
    ///
    /// ```
    /// use mp_shared_mem::{Error, ShareableList, SharedMemory};
    ///
    /// let not_a_list = SharedMemory::create(64)?;
    /// not_a_list.write_at(0, &[0xff; 8])?; // an item count of -1
    /// assert!(matches!(
    ///     ShareableList::attach(not_a_list.name()),
    ///     Err(Error::NotAShareableList { .. })
    /// ));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn attach(name: &str) -> Result<Self, Error> {
        let shm = SharedMemory::attach(name)?;
        let offsets = read_offsets(&shm)?;
        tracing::debug!(name, len = offsets.len() - 1, "ShareableList attached");
        Ok(Self { shm, offsets })
    }

    /// The block's name, for the other process (Python's `sl.shm.name`).
    ///
    /// ```
    /// let list = mp_shared_mem::ShareableList::create(&[])?;
    /// assert!(list.name().starts_with("mp_"));
    /// # Ok::<(), mp_shared_mem::Error>(())
    /// ```
    pub fn name(&self) -> &str {
        self.shm.name()
    }

    /// The number of items (Python's `len(sl)`).
    ///
    /// ```
    /// let list = mp_shared_mem::ShareableList::create(&[1.into(), 2.into()])?;
    /// assert_eq!(list.len(), 2);
    /// # Ok::<(), mp_shared_mem::Error>(())
    /// ```
    pub fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    /// Whether it has no items.
    ///
    /// ```
    /// assert!(mp_shared_mem::ShareableList::create(&[])?.is_empty());
    /// # Ok::<(), mp_shared_mem::Error>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Item `index` (Python's `sl[index]`). [`Error::IndexOutOfRange`] past the end;
    /// [`Error::CorruptItem`] if the block holds no valid item there.
    ///
    /// ```
    /// use mp_shared_mem::{Error, Item, ShareableList};
    /// let list = ShareableList::create(&[Item::from(b"\x00data\x00".as_slice())])?;
    /// assert_eq!(list.get(0)?, Item::Bytes(b"\x00data".to_vec())); // trailing NULs go
    /// assert_eq!(list.get(1), Err(Error::IndexOutOfRange { index: 1, len: 1 }));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn get(&self, index: usize) -> Result<Item, Error> {
        let (start, allotted) = self.slot(index)?;
        let format = self.format_at(index)?;
        let corrupt = |fault| Error::CorruptItem { index, fault };
        if format.size() > allotted {
            return Err(corrupt(ItemFault::FormatLargerThanSlot));
        }
        let mut value = vec![0u8; format.size()];
        self.shm.read_at(start, &mut value)?;
        slot::unpack(format, self.code_at(index)?, &value).map_err(corrupt)
    }

    /// Replaces item `index` (Python's `sl[index] = item`), with Python's rules: any kind
    /// may replace any other, but a `str` or `bytes` must fit the slot
    /// ([`Error::ItemTooLarge`], Python's `ValueError`), and a number, bool or `None`
    /// takes 8 bytes. [`Error::IndexOutOfRange`] past the end.
    ///
    /// ```
    /// use mp_shared_mem::{Item, ShareableList};
    /// let list = ShareableList::create(&["sixteen or less".into()])?;
    /// list.set(0, 3.into())?;
    /// assert_eq!(list.get(0)?, Item::Int(3));
    /// list.set(0, "back to a str".into())?; // the slot kept its 16 bytes
    /// assert_eq!(list.get(0)?, Item::from("back to a str"));
    /// # Ok::<(), mp_shared_mem::Error>(())
    /// ```
    pub fn set(&self, index: usize, item: Item) -> Result<(), Error> {
        let (start, allotted) = self.slot(index)?;
        let (format, code, value) = match slot::packing(&item) {
            Packing::Text { bytes, code } => {
                if bytes.len() > allotted {
                    return Err(Error::ItemTooLarge {
                        index,
                        len: bytes.len(),
                        allotted,
                    });
                }
                // Python keeps a `<n>s` format already there, else describes the slot.
                let format = match self.format_at(index) {
                    Ok(Format::Text(n)) if (bytes.len()..=allotted).contains(&n) => Format::Text(n),
                    _ => Format::Text(allotted),
                };
                let mut value = bytes.to_vec();
                value.resize(format.size(), 0);
                (format, code, value)
            }
            Packing::Fixed {
                format,
                code,
                value,
            } => {
                if allotted < WORD {
                    return Err(Error::CorruptItem {
                        index,
                        fault: ItemFault::SlotTooSmall,
                    });
                }
                (format, code, value.to_vec())
            }
        };
        let raw_format = format.encode().ok_or(Error::CorruptItem {
            index,
            fault: ItemFault::SlotTooLarge,
        })?;
        // The order of Python's `__setitem__`: format, code, value.
        self.shm
            .write_at(self.formats_offset() + index * WORD, &raw_format)?;
        self.shm
            .write_at(self.codes_offset() + index, &code.to_ne_bytes())?;
        self.shm.write_at(start, &value)
    }

    /// All items, in order (Python's `list(sl)`); the first error of [`get`](ShareableList::get).
    ///
    /// ```
    /// use mp_shared_mem::{Item, ShareableList};
    /// let list = ShareableList::create(&[true.into(), Item::None])?;
    /// assert_eq!(list.to_vec()?, [Item::Bool(true), Item::None]);
    /// # Ok::<(), mp_shared_mem::Error>(())
    /// ```
    pub fn to_vec(&self) -> Result<Vec<Item>, Error> {
        (0..self.len()).map(|index| self.get(index)).collect()
    }

    /// How many items equal `item` (Python's `sl.count(item)`).
    ///
    /// ```
    /// use mp_shared_mem::{Item, ShareableList};
    /// let list = ShareableList::create(&[1.into(), 2.into(), 1.into()])?;
    /// assert_eq!(list.count(&Item::Int(1))?, 2);
    /// # Ok::<(), mp_shared_mem::Error>(())
    /// ```
    pub fn count(&self, item: &Item) -> Result<usize, Error> {
        Ok(self.to_vec()?.iter().filter(|x| *x == item).count())
    }

    /// The position of the first item equal to `item`, `None` if there is none (where
    /// Python's `sl.index(item)` raises `ValueError`).
    ///
    /// ```
    /// use mp_shared_mem::{Item, ShareableList};
    /// let list = ShareableList::create(&["a".into(), "b".into()])?;
    /// assert_eq!(list.index(&Item::from("b"))?, Some(1));
    /// assert_eq!(list.index(&Item::from("c"))?, None);
    /// # Ok::<(), mp_shared_mem::Error>(())
    /// ```
    pub fn index(&self, item: &Item) -> Result<Option<usize>, Error> {
        Ok(self.to_vec()?.iter().position(|x| x == item))
    }

    /// The `struct` formats of all items, joined (Python's `sl.format`).
    ///
    /// ```
    /// use mp_shared_mem::{Item, ShareableList};
    /// let list = ShareableList::create(&[1.into(), 0.5.into(), "ab".into(), Item::None])?;
    /// assert_eq!(list.format()?, "qd8sxxxxxx?x");
    /// # Ok::<(), mp_shared_mem::Error>(())
    /// ```
    pub fn format(&self) -> Result<String, Error> {
        let mut joined = String::new();
        for index in 0..self.len() {
            let raw = self.raw_format(index)?;
            let end = raw.iter().rposition(|&b| b != 0).map_or(0, |last| last + 1);
            joined.push_str(&String::from_utf8_lossy(&raw[..end]));
        }
        Ok(joined)
    }

    /// The bytes the slot of item `index` holds: the most a `str` or `bytes` put there
    /// may take. [`Error::IndexOutOfRange`] past the end.
    ///
    /// ```
    /// use mp_shared_mem::ShareableList;
    /// let list = ShareableList::create(&[1.into(), "12345678".into()])?;
    /// assert_eq!(list.allotted(0)?, 8);
    /// assert_eq!(list.allotted(1)?, 16);
    /// # Ok::<(), mp_shared_mem::Error>(())
    /// ```
    pub fn allotted(&self, index: usize) -> Result<usize, Error> {
        self.slot(index).map(|(_, allotted)| allotted)
    }

    /// The named block that holds the list (Python's `sl.shm`).
    ///
    /// ```
    /// let list = mp_shared_mem::ShareableList::create(&[1.into()])?;
    /// assert_eq!(list.shm().size(), 8 + 16 + 8 + 8 + 1); // Python's size for [1]
    /// # Ok::<(), mp_shared_mem::Error>(())
    /// ```
    pub fn shm(&self) -> &SharedMemory {
        &self.shm
    }

    /// Whether dropping this handle unlinks the name: `true` for the creator, `false` for
    /// those that attached (see [`SharedMemory::set_unlink_on_drop`]).
    ///
    /// ```
    /// use mp_shared_mem::ShareableList;
    /// let mut list = ShareableList::create(&[1.into()])?;
    /// list.set_unlink_on_drop(false);
    /// let name = list.name().to_string();
    /// drop(list);
    /// ShareableList::attach(&name)?.shm().unlink()?;
    /// # Ok::<(), mp_shared_mem::Error>(())
    /// ```
    pub fn set_unlink_on_drop(&mut self, unlink: bool) {
        self.shm.set_unlink_on_drop(unlink);
    }

    fn fill(shm: SharedMemory, plan: Plan, items: &[Item]) -> Result<Self, Error> {
        let mut header = Vec::with_capacity(WORD * (plan.offsets.len() + 1));
        header.extend_from_slice(&(items.len() as i64).to_ne_bytes());
        for &offset in &plan.offsets {
            header.extend_from_slice(&(offset as i64).to_ne_bytes());
        }
        shm.write_at(0, &header)?;
        let list = Self {
            shm,
            offsets: plan.offsets,
        };
        for (index, item) in items.iter().enumerate() {
            list.set(index, item.clone())?;
        }
        tracing::debug!(
            name = list.name(),
            len = list.len(),
            "ShareableList created"
        );
        Ok(list)
    }

    /// The offset in the block of item `index`'s slot, and its size.
    fn slot(&self, index: usize) -> Result<(usize, usize), Error> {
        match self.offsets.get(index..=index.saturating_add(1)) {
            Some(&[start, end]) => Ok((self.data_offset() + start, end - start)),
            _ => Err(Error::IndexOutOfRange {
                index,
                len: self.len(),
            }),
        }
    }

    fn raw_format(&self, index: usize) -> Result<[u8; WORD], Error> {
        let mut raw = [0u8; WORD];
        self.shm
            .read_at(self.formats_offset() + index * WORD, &mut raw)?;
        Ok(raw)
    }

    fn format_at(&self, index: usize) -> Result<Format, Error> {
        Format::parse(&self.raw_format(index)?).ok_or(Error::CorruptItem {
            index,
            fault: ItemFault::UnknownFormat,
        })
    }

    fn code_at(&self, index: usize) -> Result<i8, Error> {
        let mut code = [0u8; 1];
        self.shm.read_at(self.codes_offset() + index, &mut code)?;
        Ok(i8::from_ne_bytes(code))
    }

    fn data_offset(&self) -> usize {
        WORD * (self.len() + 2)
    }

    fn formats_offset(&self) -> usize {
        self.data_offset() + self.offsets[self.len()]
    }

    fn codes_offset(&self) -> usize {
        self.formats_offset() + WORD * self.len()
    }
}

impl fmt::Debug for ShareableList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut list = f.debug_struct("ShareableList");
        list.field("name", &self.name());
        match self.to_vec() {
            Ok(items) => list.field("items", &items),
            Err(err) => list.field("items", &format_args!("<{err}>")),
        };
        list.finish()
    }
}

/// The slots of a list about to be made.
struct Plan {
    offsets: Vec<usize>,
}

impl Plan {
    fn new(items: &[Item]) -> Result<Self, Error> {
        let mut offsets = Vec::with_capacity(items.len() + 1);
        let mut end = 0usize;
        offsets.push(end);
        for (index, item) in items.iter().enumerate() {
            let room = match slot::packing(item) {
                Packing::Text { bytes, .. } => {
                    let room = slot::allotment(bytes.len());
                    if room > MAX_ALLOTMENT {
                        return Err(Error::ItemTooLarge {
                            index,
                            len: bytes.len(),
                            allotted: MAX_ALLOTMENT / WORD * WORD,
                        });
                    }
                    room
                }
                Packing::Fixed { .. } => WORD,
            };
            end = end.checked_add(room).ok_or(Error::TooLarge {
                size: end as u128 + room as u128,
            })?;
            offsets.push(end);
        }
        Ok(Self { offsets })
    }

    /// Python's `struct.calcsize("q" + "q" * (n + 1) + formats + "8s" * n + "b" * n)`.
    fn size(&self) -> usize {
        let n = self.offsets.len() - 1;
        WORD * (n + 2) + self.offsets[n] + (WORD + 1) * n
    }
}

/// Reads and checks the item count and the offsets of the list in `shm`.
fn read_offsets(shm: &SharedMemory) -> Result<Vec<usize>, Error> {
    let not_a_list = |fault| Error::NotAShareableList { fault };
    let read_word = |offset: usize| -> Result<i64, Error> {
        let mut word = [0u8; WORD];
        shm.read_at(offset, &mut word)
            .map_err(|_| not_a_list(ListFault::TooSmallForHeader))?;
        Ok(i64::from_ne_bytes(word))
    };
    let count = usize::try_from(read_word(0)?).map_err(|_| not_a_list(ListFault::NegativeCount))?;
    // Each item takes at least 8 offset bytes, 8 format bytes and a code.
    if count > shm.size() / (2 * WORD + 1) {
        return Err(not_a_list(ListFault::TooManyItems));
    }
    let offsets = (0..=count)
        .map(|i| {
            usize::try_from(read_word(WORD * (i + 1))?)
                .map_err(|_| not_a_list(ListFault::NegativeOffset))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if offsets[0] != 0 {
        return Err(not_a_list(ListFault::FirstOffsetNotZero));
    }
    if offsets.windows(2).any(|pair| pair[1] < pair[0]) {
        return Err(not_a_list(ListFault::OffsetsBackwards));
    }
    let needed = offsets[count]
        .checked_add(WORD * (count + 2) + (WORD + 1) * count)
        .filter(|&needed| needed <= shm.size());
    if needed.is_none() {
        return Err(not_a_list(ListFault::PastTheEnd));
    }
    Ok(offsets)
}
