//! One SSH session to one device over ssh2: connect, authenticate, check host keys, drive the platform's CLI, classify the outcome.
