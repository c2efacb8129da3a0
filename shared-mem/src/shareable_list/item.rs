//! `Item`: what one position of a `ShareableList` holds.

/// One item of a [`ShareableList`](crate::ShareableList): the six kinds of value Python's
/// `ShareableList` can hold.
///
/// | Python | `Item` | stored as (`struct` format, 8-byte aligned) |
/// |---|---|---|
/// | `int` (64-bit) | [`Item::Int`] | `q` |
/// | `float` | [`Item::Float`] | `d` |
/// | `bool` | [`Item::Bool`] | `xxxxxxx?` |
/// | `str` | [`Item::Str`] | `<n>s`, UTF-8, NUL-padded |
/// | `bytes` | [`Item::Bytes`] | `<n>s`, NUL-padded |
/// | `None` | [`Item::None`] | `xxxxxx?x` |
///
/// As in Python, trailing NUL bytes of a `str` or `bytes` item are padding: they do not
/// come back when the item is read.
///
/// ```
/// use mp_shared_mem::Item;
///
/// let items: Vec<Item> = vec![1i64.into(), 2.5.into(), true.into(), "text".into(),
///                             b"\x01\x02".as_slice().into(), Item::None];
/// assert_eq!(items[3], Item::Str("text".to_string()));
/// assert_eq!(Item::from(None::<i64>), Item::None);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub enum Item {
    /// A Python `int` that fits in 64 bits (wider ones cannot be stored, in Python either).
    Int(i64),
    /// A Python `float`.
    Float(f64),
    /// A Python `bool`.
    Bool(bool),
    /// A Python `str`.
    Str(String),
    /// A Python `bytes`.
    Bytes(Vec<u8>),
    /// Python's `None`.
    None,
}

impl Item {
    /// The Python type's name, for messages: `int`, `float`, `bool`, `str`, `bytes`,
    /// `NoneType`.
    ///
    /// ```
    /// assert_eq!(mp_shared_mem::Item::from("x").type_name(), "str");
    /// ```
    pub fn type_name(&self) -> &'static str {
        match self {
            Item::Int(_) => "int",
            Item::Float(_) => "float",
            Item::Bool(_) => "bool",
            Item::Str(_) => "str",
            Item::Bytes(_) => "bytes",
            Item::None => "NoneType",
        }
    }
}

impl From<i64> for Item {
    /// ```
    /// assert_eq!(mp_shared_mem::Item::from(-3i64), mp_shared_mem::Item::Int(-3));
    /// ```
    fn from(value: i64) -> Self {
        Item::Int(value)
    }
}

impl From<i32> for Item {
    /// ```
    /// assert_eq!(mp_shared_mem::Item::from(7), mp_shared_mem::Item::Int(7));
    /// ```
    fn from(value: i32) -> Self {
        Item::Int(value.into())
    }
}

impl From<f64> for Item {
    /// ```
    /// assert_eq!(mp_shared_mem::Item::from(0.5), mp_shared_mem::Item::Float(0.5));
    /// ```
    fn from(value: f64) -> Self {
        Item::Float(value)
    }
}

impl From<bool> for Item {
    /// ```
    /// assert_eq!(mp_shared_mem::Item::from(true), mp_shared_mem::Item::Bool(true));
    /// ```
    fn from(value: bool) -> Self {
        Item::Bool(value)
    }
}

impl From<&str> for Item {
    /// ```
    /// assert_eq!(mp_shared_mem::Item::from("a"), mp_shared_mem::Item::Str("a".into()));
    /// ```
    fn from(value: &str) -> Self {
        Item::Str(value.to_string())
    }
}

impl From<String> for Item {
    /// ```
    /// let item = mp_shared_mem::Item::from(String::from("a"));
    /// assert_eq!(item, mp_shared_mem::Item::Str("a".into()));
    /// ```
    fn from(value: String) -> Self {
        Item::Str(value)
    }
}

impl From<&[u8]> for Item {
    /// ```
    /// let item = mp_shared_mem::Item::from(b"ab".as_slice());
    /// assert_eq!(item, mp_shared_mem::Item::Bytes(b"ab".to_vec()));
    /// ```
    fn from(value: &[u8]) -> Self {
        Item::Bytes(value.to_vec())
    }
}

impl From<Vec<u8>> for Item {
    /// ```
    /// let item = mp_shared_mem::Item::from(vec![0u8, 1]);
    /// assert_eq!(item, mp_shared_mem::Item::Bytes(vec![0, 1]));
    /// ```
    fn from(value: Vec<u8>) -> Self {
        Item::Bytes(value)
    }
}

impl<T: Into<Item>> From<Option<T>> for Item {
    /// `None` is Python's `None`; `Some(x)` is `x`.
    ///
    /// ```
    /// use mp_shared_mem::Item;
    /// assert_eq!(Item::from(Some(2.0)), Item::Float(2.0));
    /// assert_eq!(Item::from(None::<bool>), Item::None);
    /// ```
    fn from(value: Option<T>) -> Self {
        value.map_or(Item::None, Into::into)
    }
}
