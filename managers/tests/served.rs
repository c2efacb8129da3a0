//! A user type served by the manager (Python's `BaseManager.register`), from several
//! processes, with its panics reported and unregistered types refused.

use mp_managers::{Error, Manager, Proxy, Refusal, Served};
use mp_processes::Process;
use serde::{Deserialize, Serialize};
use test_support::PATIENCE;

const CHILDREN: u64 = 4;
const ROUNDS: u64 = 25;

#[derive(Default)]
struct Account {
    balance: i64,
    history: Vec<i64>,
}

#[derive(Debug, Serialize, Deserialize)]
enum Ask {
    Deposit(i64),
    Balance,
    History,
    Fail,
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
enum Answer {
    Balance(i64),
    History(Vec<i64>),
}

impl Served for Account {
    type Request = Ask;
    type Response = Answer;

    fn handle(&mut self, request: Ask) -> Answer {
        match request {
            Ask::Deposit(amount) => {
                self.balance += amount;
                self.history.push(amount);
                Answer::Balance(self.balance)
            }
            Ask::Balance => Answer::Balance(self.balance),
            Ask::History => Answer::History(self.history.clone()),
            Ask::Fail => panic!("asked to fail"),
        }
    }
}

#[derive(Default)]
struct Unregistered;

impl Served for Unregistered {
    type Request = ();
    type Response = ();
    fn handle(&mut self, (): ()) {}
}

fn deposit(account: Proxy<Account>) -> Result<(), String> {
    for _ in 0..ROUNDS {
        account
            .call(&Ask::Deposit(1))
            .map_err(|err| err.to_string())?;
    }
    Ok(())
}

#[test]
fn a_served_value_takes_requests_from_many_processes() {
    let manager = Manager::builder().register::<Account>().start().unwrap();
    let account = manager.served::<Account>().unwrap();
    let children: Vec<_> = (0..CHILDREN)
        .map(|_| Process::new(deposit, (account.clone(),)).start().unwrap())
        .collect();
    for child in children {
        child.join_timeout(PATIENCE).unwrap().unwrap();
    }
    let total = (CHILDREN * ROUNDS) as i64;
    assert_eq!(account.call(&Ask::Balance).unwrap(), Answer::Balance(total));
    let Answer::History(history) = account.call(&Ask::History).unwrap() else {
        panic!("history answers a history");
    };
    assert_eq!(history.len() as i64, total);
}

#[test]
fn a_panic_in_handle_is_reported_and_the_value_stays_served() {
    let manager = Manager::builder().register::<Account>().start().unwrap();
    let account = manager.named_served::<Account>("main").unwrap();
    account.call(&Ask::Deposit(5)).unwrap();
    let failed = account.call(&Ask::Fail);
    assert!(
        matches!(&failed, Err(Error::Refused(Refusal::HandlerPanicked { message })) if message == "asked to fail"),
        "{failed:?}"
    );
    let again = manager.named_served::<Account>("main").unwrap();
    assert_eq!(again.call(&Ask::Balance).unwrap(), Answer::Balance(5));
}

#[test]
fn an_unregistered_type_is_refused() {
    let manager = Manager::builder().register::<Account>().start().unwrap();
    assert!(matches!(
        manager.served::<Unregistered>(),
        Err(Error::Refused(Refusal::NotRegistered { .. }))
    ));
}
