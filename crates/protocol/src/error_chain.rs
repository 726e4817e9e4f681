//! An error and its causes as one line, the way every netsweep binary reports them:
//! `cannot start worker binary ./w: No such file or directory (os error 2)`.
//!
//! It lives here, in the crate every other depends on, so that the CLI, the pool (which
//! reports a worker's broken frames) and the simulator word errors alike. It only formats;
//! deciding where an error goes is the caller's.

use std::error::Error;

/// `error`'s message, then each of its sources', joined by `": "`. A source whose text the
/// line already holds (an error that prints its cause itself) is not repeated.
pub fn error_chain(error: &dyn Error) -> String {
    let mut line = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        source = cause.source();
    }
    line
}

#[cfg(test)]
mod tests {
    use std::fmt;

    use super::*;

    #[derive(Debug)]
    struct Layer {
        text: &'static str,
        source: Option<Box<Layer>>,
    }

    impl fmt::Display for Layer {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.text)
        }
    }

    impl Error for Layer {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            self.source.as_deref().map(|s| s as &(dyn Error + 'static))
        }
    }

    fn chain(texts: &[&'static str]) -> Layer {
        let mut layer: Option<Box<Layer>> = None;
        for text in texts.iter().rev() {
            layer = Some(Box::new(Layer {
                text,
                source: layer,
            }));
        }
        *layer.expect("at least one layer")
    }

    #[test]
    fn causes_follow_the_message_outermost_first() {
        let error = chain(&["cannot read devices.yaml", "permission denied"]);
        assert_eq!(
            error_chain(&error),
            "cannot read devices.yaml: permission denied"
        );
        assert_eq!(error_chain(&chain(&["alone"])), "alone");
    }

    #[test]
    fn a_cause_already_in_the_line_is_not_repeated() {
        let error = chain(&[
            "fork server: it has stopped",
            "it has stopped",
            "broken pipe",
        ]);
        assert_eq!(
            error_chain(&error),
            "fork server: it has stopped: broken pipe"
        );
    }
}
