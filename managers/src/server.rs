//! The server: a thread per connection over one table of objects. Each object has its
//! own lock, so an update holds only the dict it changes, and releases it when its
//! connection ends (a proxy that dies mid-update does not wedge the others).

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use mp_ipc::{Address, Connection, Listener};

use crate::Error;
use crate::protocol::{Kind, Message, Reply, Request};
use crate::served::{Handler, Registry};
use crate::{MessageKind, ProtocolFault, Refusal};

pub(crate) enum Object {
    Dict(HashMap<Vec<u8>, Vec<u8>>),
    List(Vec<Vec<u8>>),
    Semaphore {
        value: u64,
        bound: Option<u64>,
    },
    Event(bool),
    Queue {
        items: VecDeque<Vec<u8>>,
        maxsize: Option<u64>,
    },
    Barrier {
        parties: u64,
        count: u64,
        generation: u64,
        broken: bool,
    },
    /// Waiters take tickets in order; a notification moves `woken` past the next ones
    /// that are still waiting (a ticket given up by a timeout is skipped).
    Condition {
        next: u64,
        woken: u64,
        given_up: BTreeSet<u64>,
    },
    Served {
        type_name: String,
        state: Box<dyn Handler>,
    },
}

impl Object {
    fn new(kind: Kind) -> Self {
        match kind {
            Kind::Dict => Object::Dict(HashMap::new()),
            Kind::List => Object::List(Vec::new()),
            Kind::Semaphore { initial, bound } => Object::Semaphore {
                value: initial,
                bound,
            },
            Kind::Event => Object::Event(false),
            Kind::Queue { maxsize } => Object::Queue {
                items: VecDeque::new(),
                maxsize,
            },
            Kind::Condition => Object::Condition {
                next: 0,
                woken: 0,
                given_up: BTreeSet::new(),
            },
            Kind::Barrier { parties } => Object::Barrier {
                parties,
                count: 0,
                generation: 0,
                broken: false,
            },
        }
    }

    fn is(&self, kind: Kind) -> bool {
        matches!(
            (self, kind),
            (Object::Dict(_), Kind::Dict)
                | (Object::List(_), Kind::List)
                | (Object::Semaphore { .. }, Kind::Semaphore { .. })
                | (Object::Event(_), Kind::Event)
                | (Object::Queue { .. }, Kind::Queue { .. })
                | (Object::Barrier { .. }, Kind::Barrier { .. })
                | (Object::Condition { .. }, Kind::Condition)
        )
    }
}

/// One object, with the condition variable its blocking calls wait on.
#[derive(Default)]
pub(crate) struct Entry {
    pub(crate) object: Mutex<Option<Object>>,
    pub(crate) changed: Condvar,
}

/// Makes a served value from its type's name: the server's [`Registry`].
type Make = fn(&str) -> Option<Box<dyn Handler>>;

pub(crate) struct Table {
    make: Make,
    objects: HashMap<u64, Arc<Entry>>,
    names: HashMap<String, u64>,
    next_id: u64,
}

pub(crate) type Shared = Arc<Mutex<Table>>;

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A connection thread panics only on a bug of this module, never with a table or
    // object half-changed (each change is one collection call).
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Listens on `address` and serves every peer that proves it has `authkey`, until the
/// process ends (Python's `BaseManager.get_server().serve_forever()`).
///
/// Clients reach it with [`Manager::connect`](crate::Manager::connect). Returns only if
/// binding fails.
///
/// ```no_run
/// // In the serving process (blocks for good):
/// mp_managers::serve("127.0.0.1:50000", b"secret")?;
/// # Ok::<(), mp_managers::Error>(())
/// ```
pub fn serve(address: &str, authkey: &[u8]) -> Result<(), Error> {
    serve_registered::<()>(address, authkey)
}

/// [`serve`] with the [`Served`](crate::Served) types of `R`.
pub(crate) fn serve_registered<R: Registry>(address: &str, authkey: &[u8]) -> Result<(), Error> {
    let address: Address = address.parse()?;
    let listener = Listener::bind(&address, Some(authkey))?;
    serve_listener(&listener, R::make);
    Ok(())
}

/// The body of [`Manager::start`](crate::Manager::start)'s server process.
pub(crate) fn serve_in_child<R: Registry>(address: String, authkey: Vec<u8>) -> Result<(), String> {
    serve_registered::<R>(&address, &authkey).map_err(|err| err.to_string())
}

fn serve_listener(listener: &Listener, make: Make) {
    let table: Shared = Arc::new(Mutex::new(Table {
        make,
        objects: HashMap::new(),
        names: HashMap::new(),
        next_id: 0,
    }));
    loop {
        match listener.accept::<Message>() {
            Ok(connection) => {
                let table = Arc::clone(&table);
                std::thread::spawn(move || serve_connection(&connection, &table));
            }
            // A peer with a wrong key, one that gave up, or one too slow: the listener
            // goes on.
            Err(
                refused @ (mp_ipc::Error::AuthenticationFailed { .. } | mp_ipc::Error::TimedOut),
            ) => {
                tracing::debug!(%refused, "manager refused a peer");
            }
            Err(err) => {
                tracing::warn!(%err, "manager accept failed");
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        }
    }
}

fn serve_connection(connection: &Connection<Message>, table: &Shared) {
    while let Ok(Message::Request(request)) = connection.recv() {
        let reply = match request {
            Request::UpdateBegin { id, key } => match update(connection, table, id, key) {
                Some(reply) => reply,
                None => return,
            },
            // The caller holds a count of `lock` once these succeed.
            request @ (Request::Acquire { .. } | Request::ConditionWait { .. }) => {
                let lock = match &request {
                    Request::Acquire { id, .. } => *id,
                    Request::ConditionWait { lock, .. } => *lock,
                    _ => unreachable!("matched above"),
                };
                let holds = !matches!(request, Request::Acquire { .. });
                let reply = handle(table, request);
                if connection.send(&Message::Reply(reply.clone())).is_err() {
                    // The caller left while it waited: what it took goes back.
                    if holds || matches!(reply, Reply::Flag(true)) {
                        let _ = crate::waiting::release(table, lock);
                    }
                    return;
                }
                continue;
            }
            other => handle(table, other),
        };
        if connection.send(&Message::Reply(reply)).is_err() {
            return;
        }
    }
}

pub(crate) fn object(table: &Shared, id: u64) -> Result<Arc<Entry>, Refusal> {
    lock(table)
        .objects
        .get(&id)
        .cloned()
        .ok_or(Refusal::NoSuchObject { id })
}

pub(crate) fn wrong_kind(id: u64, kind: Kind) -> Refusal {
    Refusal::WrongKind {
        id,
        expected: kind.name().to_owned(),
    }
}

/// An update: the dict stays locked from the value's reply to the new value's arrival.
/// `None` if the connection ended meanwhile (the lock is released all the same).
fn update(
    connection: &Connection<Message>,
    table: &Shared,
    id: u64,
    key: Vec<u8>,
) -> Option<Reply> {
    let object = match object(table, id) {
        Ok(object) => object,
        Err(refusal) => return Some(Reply::Refused(refusal)),
    };
    let mut guard = lock(&object.object);
    let Some(Object::Dict(dict)) = &mut *guard else {
        return Some(Reply::Refused(wrong_kind(id, Kind::Dict)));
    };
    let current = dict.get(&key).cloned();
    connection
        .send(&Message::Reply(Reply::Value(current)))
        .ok()?;
    match connection.recv().ok()? {
        Message::Request(Request::UpdateEnd { value }) => {
            dict.insert(key, value);
            Some(Reply::Done)
        }
        other => Some(Reply::Refused(Refusal::Protocol {
            fault: ProtocolFault::UpdateEndExpected {
                got: match other {
                    Message::Request(_) => MessageKind::Request,
                    Message::Reply(reply) => reply.kind(),
                },
            },
        })),
    }
}

fn handle(table: &Shared, request: Request) -> Reply {
    match run(table, request) {
        Ok(reply) => reply,
        Err(refusal) => Reply::Refused(refusal),
    }
}

fn create(table: &Shared, kind: Kind, name: Option<String>) -> Result<Reply, Refusal> {
    let mut table = lock(table);
    if let Some(id) = name
        .as_ref()
        .and_then(|name| table.names.get(name).copied())
    {
        let object = table.objects.get(&id).ok_or(Refusal::NoSuchObject { id })?;
        let same_kind = lock(&object.object).as_ref().is_some_and(|o| o.is(kind));
        return if same_kind {
            Ok(Reply::Created(id))
        } else {
            Err(wrong_kind(id, kind))
        };
    }
    Ok(Reply::Created(insert(&mut table, Object::new(kind), name)))
}

fn insert(table: &mut Table, object: Object, name: Option<String>) -> u64 {
    table.next_id += 1;
    let id = table.next_id;
    let entry = Entry {
        object: Mutex::new(Some(object)),
        changed: Condvar::new(),
    };
    table.objects.insert(id, Arc::new(entry));
    if let Some(name) = name {
        table.names.insert(name, id);
    }
    id
}

fn create_served(
    table: &Shared,
    type_name: String,
    name: Option<String>,
) -> Result<Reply, Refusal> {
    let mut table = lock(table);
    if let Some(id) = name
        .as_ref()
        .and_then(|name| table.names.get(name).copied())
    {
        let object = table.objects.get(&id).ok_or(Refusal::NoSuchObject { id })?;
        let same = matches!(&*lock(&object.object), Some(Object::Served { type_name: held, .. }) if *held == type_name);
        return if same {
            Ok(Reply::Created(id))
        } else {
            Err(Refusal::WrongKind {
                id,
                expected: type_name,
            })
        };
    }
    let state = (table.make)(&type_name).ok_or_else(|| Refusal::NotRegistered {
        type_name: type_name.clone(),
    })?;
    let object = Object::Served { type_name, state };
    Ok(Reply::Created(insert(&mut table, object, name)))
}

fn call_served(table: &Shared, id: u64, request: &[u8]) -> Result<Reply, Refusal> {
    let object = object(table, id)?;
    let mut guard = lock(&object.object);
    match &mut *guard {
        Some(Object::Served { state, .. }) => Ok(Reply::Value(Some(state.handle_bytes(request)?))),
        _ => Err(Refusal::WrongKind {
            id,
            expected: "served value".to_owned(),
        }),
    }
}

fn with_dict<R>(
    table: &Shared,
    id: u64,
    f: impl FnOnce(&mut HashMap<Vec<u8>, Vec<u8>>) -> R,
) -> Result<R, Refusal> {
    let object = object(table, id)?;
    let mut guard = lock(&object.object);
    match &mut *guard {
        Some(Object::Dict(dict)) => Ok(f(dict)),
        _ => Err(wrong_kind(id, Kind::Dict)),
    }
}

fn with_list<R>(
    table: &Shared,
    id: u64,
    f: impl FnOnce(&mut Vec<Vec<u8>>) -> Result<R, Refusal>,
) -> Result<R, Refusal> {
    let object = object(table, id)?;
    let mut guard = lock(&object.object);
    match &mut *guard {
        Some(Object::List(list)) => f(list),
        _ => Err(wrong_kind(id, Kind::List)),
    }
}

fn slot(list: &mut [Vec<u8>], index: u64) -> Result<&mut Vec<u8>, Refusal> {
    let len = list.len() as u64;
    usize::try_from(index)
        .ok()
        .and_then(|index| list.get_mut(index))
        .ok_or(Refusal::IndexOutOfRange { index, len })
}

fn run(table: &Shared, request: Request) -> Result<Reply, Refusal> {
    match request {
        Request::Create { kind, name } => create(table, kind, name),
        Request::CreateServed { type_name, name } => create_served(table, type_name, name),
        Request::Call { id, request } => call_served(table, id, &request),
        Request::DictGet { id, key } => {
            with_dict(table, id, |d| Reply::Value(d.get(&key).cloned()))
        }
        Request::DictSet { id, key, value } => with_dict(table, id, |d| {
            d.insert(key, value);
            Reply::Done
        }),
        Request::DictRemove { id, key } => with_dict(table, id, |d| Reply::Value(d.remove(&key))),
        Request::DictLen { id } => with_dict(table, id, |d| Reply::Len(d.len() as u64)),
        Request::DictItems { id } => with_dict(table, id, |d| {
            Reply::Pairs(d.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        }),
        Request::ListPush { id, value } => with_list(table, id, |l| {
            l.push(value);
            Ok(Reply::Done)
        }),
        Request::ListPop { id } => with_list(table, id, |l| Ok(Reply::Value(l.pop()))),
        Request::ListGet { id, index } => with_list(table, id, |l| {
            Ok(Reply::Value(Some(slot(l, index)?.clone())))
        }),
        Request::ListSet { id, index, value } => with_list(table, id, |l| {
            *slot(l, index)? = value;
            Ok(Reply::Done)
        }),
        Request::ListLen { id } => with_list(table, id, |l| Ok(Reply::Len(l.len() as u64))),
        Request::ListItems { id } => with_list(table, id, |l| Ok(Reply::Items(l.clone()))),
        Request::Acquire { id, timeout } => crate::waiting::acquire(table, id, timeout),
        Request::Release { id } => crate::waiting::release(table, id),
        Request::EventSet { id, set } => crate::waiting::event_set(table, id, set),
        Request::EventIsSet { id } => crate::waiting::event_is_set(table, id),
        Request::EventWait { id, timeout } => crate::waiting::event_wait(table, id, timeout),
        Request::QueuePut { id, value, timeout } => {
            crate::waiting::queue_put(table, id, value, timeout)
        }
        Request::QueueGet { id, timeout } => crate::waiting::queue_get(table, id, timeout),
        Request::BarrierWait { id, timeout } => crate::waiting::barrier_wait(table, id, timeout),
        Request::BarrierBreak { id, broken } => crate::waiting::barrier_break(table, id, broken),
        Request::ConditionWait { id, lock, timeout } => {
            crate::waiting::condition_wait(table, id, lock, timeout)
        }
        Request::ConditionNotify { id, count } => {
            crate::waiting::condition_notify(table, id, count)
        }
        Request::QueueLen { id } => crate::waiting::queue_len(table, id),
        Request::UpdateBegin { .. } | Request::UpdateEnd { .. } => Err(Refusal::Protocol {
            fault: ProtocolFault::UpdateEndWithoutStart,
        }),
    }
}
