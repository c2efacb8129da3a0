//! Turning a panic payload into the message a user reads: a panic caught in a thread, a
//! pool task or a child process is reported as an error carrying this text.

use std::any::Any;

/// The message of a panic payload: `panic!("...")` gives a `&'static str` or a `String`;
/// anything else (from `std::panic::panic_any`) is described by kind.
///
/// ```
/// use mp_sys::panic::panic_message;
///
/// let payload = std::panic::catch_unwind(|| panic!("formatted {}", 42)).unwrap_err();
/// assert_eq!(panic_message(&*payload), "formatted 42");
/// ```
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(message) = payload.downcast_ref::<&'static str>() {
        (*message).to_owned()
    } else if let Some(message) = payload.downcast_ref::<String>() {
        message.clone()
    } else {
        "non-string panic payload".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::panic_message;

    #[test]
    fn str_string_and_other_payloads() {
        let str_payload = std::panic::catch_unwind(|| panic!("plain")).unwrap_err();
        assert_eq!(panic_message(&*str_payload), "plain");
        let string_payload = std::panic::catch_unwind(|| panic!("formatted {}", 42)).unwrap_err();
        assert_eq!(panic_message(&*string_payload), "formatted 42");
        let other_payload = std::panic::catch_unwind(|| std::panic::panic_any(7_u8)).unwrap_err();
        assert_eq!(panic_message(&*other_payload), "non-string panic payload");
    }
}
