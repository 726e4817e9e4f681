//! Runs many device jobs at once behind one Executor interface: a thread pool and a supervised process pool of worker binaries.
