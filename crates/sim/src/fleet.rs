//! A running fleet: its own tokio runtime on background threads, one listener and accept loop
//! per device, counters, and a blocking API for tests and the binary.
//!
//! tokio never leaks out of here: callers see plain blocking methods. Every listener is bound
//! (and every address checked to be loopback) before [`Fleet::start`] returns, and dropping the
//! fleet stops every task and closes every socket.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener as StdTcpListener};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use russh::keys::{Algorithm, PrivateKey, PublicKey};
use russh::server::Config;
use russh::{Preferred, SshId, cipher, kex, mac};
use serde::Serialize;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpSocket, TcpStream};

use crate::config_state::DeviceConfig;
use crate::facts::Facts;
use crate::session::{Connection, methods};
use crate::session_log::{SessionLog, SessionSpan};
use crate::spec::{DeviceSpec, Fault, FleetSpec, Transport};
use crate::{SimError, keys};

/// What one device has seen so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counters {
    /// TCP connections accepted (including ones a fault dropped or hung).
    pub connections: u64,
    /// Successful logins.
    pub auth_ok: u64,
    /// Rejected login attempts (a key only offered, not signed, is not counted).
    pub auth_failed: u64,
    /// Commands run: non-empty shell lines and exec requests.
    pub commands: u64,
    /// Requests for the list of login methods (SSH "none" authentication), each a round trip
    /// a client could have spared.
    pub method_queries: u64,
    /// Shell and exec channels whose conversation has ended (the client logged out or left),
    /// so that a test can read `commands` once a session is over.
    pub channels_done: u64,
    /// The window size (width, height) the last telnet client reported (NAWS), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window: Option<(u16, u16)>,
    /// Logins with the right credentials failed on purpose by `aaa-flaky` (its AAA server
    /// "timed out"); not in `auth_failed`.
    pub aaa_unavailable: u64,
    /// Configuration lines that reached the running configuration (applied at once, or
    /// committed).
    pub config_lines: u64,
    /// Commits of a candidate configuration.
    pub commits: u64,
    /// Saves of the running configuration.
    pub saves: u64,
}

#[derive(Default)]
pub(crate) struct CounterCells {
    pub connections: AtomicU64,
    pub auth_ok: AtomicU64,
    pub auth_failed: AtomicU64,
    pub commands: AtomicU64,
    pub method_queries: AtomicU64,
    pub channels_done: AtomicU64,
    /// `1 << 32 | width << 16 | height`, or 0 before any window size.
    window: AtomicU64,
    pub aaa_unavailable: AtomicU64,
}

impl CounterCells {
    pub(crate) fn record_window(&self, width: u16, height: u16) {
        let packed = 1 << 32 | u64::from(width) << 16 | u64::from(height);
        self.window.store(packed, Ordering::Relaxed);
    }

    fn snapshot(&self) -> Counters {
        let window = self.window.load(Ordering::Relaxed);
        Counters {
            connections: self.connections.load(Ordering::Relaxed),
            auth_ok: self.auth_ok.load(Ordering::Relaxed),
            auth_failed: self.auth_failed.load(Ordering::Relaxed),
            commands: self.commands.load(Ordering::Relaxed),
            method_queries: self.method_queries.load(Ordering::Relaxed),
            channels_done: self.channels_done.load(Ordering::Relaxed),
            window: (window != 0).then_some(((window >> 16) as u16, window as u16)),
            aaa_unavailable: self.aaa_unavailable.load(Ordering::Relaxed),
            ..Counters::default()
        }
    }
}

/// One device as the server tasks see it.
pub(crate) struct Device {
    pub spec: DeviceSpec,
    pub seed: u64,
    pub counters: CounterCells,
    pub facts: Facts,
    /// The running configuration's changes, shared by every connection.
    pub configuration: Arc<DeviceConfig>,
    pub authorized: Vec<PublicKey>,
    /// The server config with the device's own host key (`hostkey-change` builds a fresh one
    /// per connection instead).
    config: Arc<Config>,
    host_key_line: String,
    /// Its index in the fleet, and the fleet's log of sessions.
    index: usize,
    sessions: Arc<SessionLog>,
}

/// A simulated fleet serving on loopback until shut down or dropped.
pub struct Fleet {
    runtime: Option<tokio::runtime::Runtime>,
    specs: Vec<DeviceSpec>,
    devices: Vec<Arc<Device>>,
    by_name: HashMap<String, usize>,
    seed: u64,
    sessions: Arc<SessionLog>,
    /// Bound but never listening: connections to `refuse` devices are refused, and no one
    /// else can take the port while the fleet runs.
    _reserved: Vec<TcpSocket>,
}

/// How long an accept loop pauses after an accept error (e.g. out of file descriptors)
/// before trying again; `run_on_socket` would give up for good instead.
const ACCEPT_RETRY: Duration = Duration::from_millis(50);

/// How long `shutdown` waits for tasks to stop.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

impl Fleet {
    /// Binds every device's listener and starts serving. Returns once all are ready.
    pub fn start(spec: FleetSpec) -> Result<Fleet, SimError> {
        spec.validate()?;
        let threads = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
            .max(2);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name("netsweep-sim")
            .enable_all()
            .build()
            .map_err(SimError::Runtime)?;
        let legacy_key = spec
            .devices
            .iter()
            .any(|d| d.behaviour.has(Fault::Legacy))
            .then(|| keys::shared_rsa_host_key(spec.seed));

        let _entered = runtime.enter();
        let sessions = SessionLog::new();
        let mut specs = Vec::with_capacity(spec.devices.len());
        let mut devices = Vec::with_capacity(spec.devices.len());
        let mut reserved = Vec::new();
        let mut listeners = Vec::with_capacity(spec.devices.len());
        for (index, mut device_spec) in spec.devices.into_iter().enumerate() {
            let bind_error = |source| SimError::Bind {
                device: device_spec.name.clone(),
                addr: device_spec.addr,
                source,
            };
            let local = if device_spec.behaviour.has(Fault::Refuse) {
                let socket = if device_spec.addr.is_ipv4() {
                    TcpSocket::new_v4()
                } else {
                    TcpSocket::new_v6()
                }
                .and_then(|s| s.bind(device_spec.addr).map(|()| s))
                .map_err(bind_error)?;
                let local = socket.local_addr().map_err(bind_error)?;
                reserved.push(socket);
                local
            } else {
                let listener = StdTcpListener::bind(device_spec.addr)
                    .and_then(|l| l.set_nonblocking(true).map(|()| l))
                    .map_err(bind_error)?;
                let local = listener.local_addr().map_err(bind_error)?;
                listeners.push((index, listener));
                local
            };
            device_spec.addr = local;
            let device = Device::new(device_spec.clone(), spec.seed, index, legacy_key.clone())?
                .logging_to(&sessions);
            specs.push(device_spec);
            devices.push(Arc::new(device));
        }
        for (index, listener) in listeners {
            let listener = TcpListener::from_std(listener).map_err(|source| SimError::Bind {
                device: specs[index].name.clone(),
                addr: specs[index].addr,
                source,
            })?;
            runtime.spawn(accept_loop(listener, devices[index].clone()));
        }
        drop(_entered);
        tracing::info!(devices = specs.len(), "simulated fleet ready");
        let by_name = specs
            .iter()
            .enumerate()
            .map(|(i, d)| (d.name.clone(), i))
            .collect();
        Ok(Fleet {
            runtime: Some(runtime),
            specs,
            devices,
            by_name,
            seed: spec.seed,
            sessions,
            _reserved: reserved,
        })
    }

    /// The address a device actually listens on (port 0 resolved).
    pub fn addr(&self, name: &str) -> Option<SocketAddr> {
        self.by_name.get(name).map(|&i| self.specs[i].addr)
    }

    /// Every device, with resolved addresses, in fleet order.
    pub fn devices(&self) -> &[DeviceSpec] {
        &self.specs
    }

    /// The running fleet as a spec (resolved addresses), e.g. to write an inventory for it.
    pub fn spec(&self) -> FleetSpec {
        FleetSpec {
            seed: self.seed,
            devices: self.specs.clone(),
        }
    }

    /// What a device has seen so far.
    pub fn counters(&self, name: &str) -> Option<Counters> {
        self.by_name.get(name).map(|&i| {
            let device = &self.devices[i];
            let config = device.configuration.counts();
            Counters {
                config_lines: config.applied,
                commits: config.commits,
                saves: config.saves,
                ..device.counters.snapshot()
            }
        })
    }

    /// The lines configuration changes have added to a device's running configuration.
    pub fn added_config(&self, name: &str) -> Option<Vec<String>> {
        self.by_name
            .get(name)
            .map(|&i| self.devices[i].configuration.added_lines())
    }

    /// Every TCP session so far, of every device, in the order they were accepted: when
    /// each began and ended. How a client paced its sessions shows here.
    pub fn sessions(&self) -> Vec<SessionSpan> {
        let names: Vec<String> = self.specs.iter().map(|d| d.name.clone()).collect();
        self.sessions.spans(&names)
    }

    /// The device's public host key as an OpenSSH line (`ssh-ed25519 AAAA…`), for
    /// known_hosts. `legacy` devices share one RSA key; for `hostkey-change` devices this is
    /// the key they would have without the fault, which they never serve.
    pub fn host_key_openssh(&self, name: &str) -> Option<String> {
        self.by_name
            .get(name)
            .map(|&i| self.devices[i].host_key_line.clone())
    }

    /// Stops every task and closes every socket. Dropping the fleet does the same.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            // Blocking for the tasks to stop is not allowed inside another runtime.
            if tokio::runtime::Handle::try_current().is_ok() {
                runtime.shutdown_background();
            } else {
                runtime.shutdown_timeout(SHUTDOWN_GRACE);
            }
        }
    }
}

impl std::fmt::Debug for Fleet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fleet")
            .field("seed", &self.seed)
            .field("devices", &self.specs.len())
            .field("running", &self.runtime.is_some())
            .finish()
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Device {
    fn new(
        spec: DeviceSpec,
        seed: u64,
        index: usize,
        legacy_key: Option<Arc<PrivateKey>>,
    ) -> Result<Device, SimError> {
        let authorized = spec
            .authorized_keys
            .iter()
            .map(|line| {
                keys::parse_authorized_key(line).map_err(|e| {
                    SimError::Invalid(format!("device {}: bad authorized key: {e}", spec.name))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let host_key = match (&legacy_key, spec.behaviour.has(Fault::Legacy)) {
            (Some(rsa), true) => (**rsa).clone(),
            _ => keys::device_host_key(seed, &spec.name),
        };
        let host_key_line = keys::openssh_public_line(&host_key);
        let config = Arc::new(server_config(&spec, host_key));
        Ok(Device {
            configuration: Arc::default(),
            facts: Facts::new(
                seed,
                &spec.name,
                index,
                spec.behaviour.running_config_bytes,
                &spec.platform.model().serial_prefix,
            ),
            spec,
            seed,
            counters: CounterCells::default(),
            authorized,
            config,
            host_key_line,
            index,
            sessions: SessionLog::new(),
        })
    }

    fn logging_to(mut self, sessions: &Arc<SessionLog>) -> Self {
        self.sessions = sessions.clone();
        self
    }
}

/// The russh server configuration for one device and host key.
fn server_config(spec: &DeviceSpec, host_key: PrivateKey) -> Config {
    let server_id = spec.platform.model().ident.clone();
    let preferred = if spec.behaviour.has(Fault::Legacy) {
        Preferred {
            kex: vec![kex::DH_G14_SHA1].into(),
            key: vec![Algorithm::Rsa { hash: None }].into(),
            cipher: vec![cipher::AES_128_CTR].into(),
            mac: vec![mac::HMAC_SHA1].into(),
            ..Preferred::default()
        }
    } else {
        Preferred::default()
    };
    Config {
        server_id: SshId::Standard(server_id.into()),
        methods: methods(spec.platform),
        // A rejected login still costs the client a little time, but not the second a real
        // server spends: sweeps over thousands of `auth` devices must stay quick.
        auth_rejection_time: Duration::from_millis(50),
        auth_rejection_time_initial: Some(Duration::ZERO),
        keys: vec![host_key],
        preferred,
        inactivity_timeout: Some(Duration::from_secs(600)),
        nodelay: true,
        ..Config::default()
    }
}

async fn accept_loop(listener: TcpListener, device: Arc<Device>) {
    loop {
        match listener.accept().await {
            Ok((stream, _peer)) => {
                tokio::spawn(serve(stream, device.clone()));
            }
            Err(error) => {
                tracing::warn!(device = %device.spec.name, %error, "accept failed; retrying");
                tokio::time::sleep(ACCEPT_RETRY).await;
            }
        }
    }
}

/// One accepted TCP connection, through the connection-level faults into an SSH session (or
/// a telnet one).
async fn serve(stream: TcpStream, device: Arc<Device>) {
    let _session = device.sessions.open(device.index);
    let number = device.counters.connections.fetch_add(1, Ordering::Relaxed);
    let behaviour = &device.spec.behaviour;
    if number < u64::from(behaviour.flaky_count()) {
        return; // dropping the stream closes it before any banner
    }
    let _ = stream.set_nodelay(true);
    if behaviour.has(Fault::HangBanner) {
        hold_silently(stream).await;
        return;
    }
    if !behaviour.banner_delay.is_zero() {
        tokio::time::sleep(behaviour.banner_delay).await;
    }
    let Some((stream, socket)) = with_cut_handle(stream) else {
        return;
    };
    if device.spec.transport == Transport::Telnet {
        crate::telnet::serve(stream, device, number, Arc::new(socket)).await;
        return;
    }
    let config = if behaviour.has(Fault::HostkeyChange) {
        Arc::new(server_config(&device.spec, keys::random_host_key()))
    } else {
        device.config.clone()
    };
    let handler = Connection::new(device.clone(), number, Arc::new(socket));
    if behaviour.rtt.is_zero() {
        run_session(config, stream, handler, &device).await;
    } else {
        let distant = crate::wan::delayed(stream, behaviour.rtt);
        run_session(config, distant, handler, &device).await;
    }
}

/// Serves one SSH session over `stream` until it ends.
async fn run_session<S>(config: Arc<Config>, stream: S, handler: Connection, device: &Device)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    match russh::server::run_stream(config, stream, handler).await {
        Ok(session) => {
            if let Err(error) = session.await {
                tracing::debug!(device = %device.spec.name, %error, "session ended with an error");
            }
        }
        Err(error) => {
            tracing::debug!(device = %device.spec.name, %error, "handshake failed");
        }
    }
}

/// Keeps an accepted connection open without ever answering, until the client leaves.
async fn hold_silently(mut stream: TcpStream) {
    let mut sink = [0u8; 1024];
    while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
}

/// Duplicates the socket's descriptor so a task can later shut the connection down.
fn with_cut_handle(stream: TcpStream) -> Option<(TcpStream, std::net::TcpStream)> {
    let std_stream = stream.into_std().ok()?;
    let cut = std_stream.try_clone().ok()?;
    let stream = TcpStream::from_std(std_stream).ok()?;
    Some((stream, cut))
}
