//! One telnet connection to one simulated device: the option negotiation an IOS-like server
//! opens with (it will echo and suppress go-aheads, and asks for the client's terminal type
//! and window size), the platform's own login prompts, then the very CLI the SSH shell runs
//! ([`crate::session::shell`]) over the same [`Terminal`].
//!
//! Faults mean what they mean over SSH: `auth` (or a wrong password) shows the login prompt
//! again, and after three refusals the connection closes; the rest happen in the CLI. The
//! SSH-only faults (`legacy`, `hostkey-change`) are refused for telnet devices by
//! [`crate::FleetSpec::validate`].
//!
//! Bytes are decoded and encoded by `netsweep-telnet`, the codec netsweep's client uses too.

use std::net::TcpStream as StdTcpStream;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use netsweep_telnet::{Change, Decoder, Event, Negotiator, OptionSet, Side, opt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{Mutex, mpsc};

use crate::fleet::Device;
use crate::model::Kind;
use crate::session::{Gone, Output, Terminal, Typed, shell, split_login};
use crate::spec::Fault;

/// Logins refused before the device hangs up, as IOS's default.
const LOGIN_ATTEMPTS: u32 = 3;

/// How long a refusal takes (a real device waits longer; sweeps of thousands of `auth`
/// devices must stay quick, as over SSH).
const REFUSAL_DELAY: Duration = Duration::from_millis(50);

/// Options the simulated device performs, and those it lets the client perform.
const LOCAL_OPTIONS: OptionSet = OptionSet::of(&[opt::ECHO, opt::SUPPRESS_GO_AHEAD]);
const REMOTE_OPTIONS: OptionSet = OptionSet::of(&[opt::TERMINAL_TYPE, opt::NAWS]);

/// The sending half of a telnet connection, shared by the terminal (data) and the reader
/// (answers to negotiation).
#[derive(Clone)]
pub(crate) struct Writer(Arc<Mutex<OwnedWriteHalf>>);

impl Writer {
    /// Sends data: `0xFF` doubled, NVT line endings.
    pub(crate) async fn data(&self, data: &[u8]) -> std::io::Result<()> {
        let mut wire = Vec::with_capacity(data.len() + 16);
        netsweep_telnet::encode(data, &mut wire);
        self.raw(&wire).await
    }

    async fn raw(&self, bytes: &[u8]) -> std::io::Result<()> {
        self.0.lock().await.write_all(bytes).await
    }

    /// Closes the sending side: telnet's way of ending a session.
    pub(crate) async fn close(&self) {
        let _ = self.0.lock().await.shutdown().await;
    }
}

/// Serves connection number `number` to `device` until the client leaves. `socket` is a
/// second handle on the connection, for the `drop-mid-output` fault.
pub(crate) async fn serve(
    stream: TcpStream,
    device: Arc<Device>,
    number: u64,
    socket: Arc<StdTcpStream>,
) {
    let (read, write) = stream.into_split();
    let writer = Writer(Arc::new(Mutex::new(write)));
    let mut options = Negotiator::new(LOCAL_OPTIONS, REMOTE_OPTIONS);
    let mut opening = Vec::new();
    options.offer(opt::ECHO, &mut opening);
    options.offer(opt::SUPPRESS_GO_AHEAD, &mut opening);
    options.ask(opt::TERMINAL_TYPE, &mut opening);
    options.ask(opt::NAWS, &mut opening);
    if writer.raw(&opening).await.is_err() {
        return;
    }
    let (input, typed) = mpsc::unbounded_channel();
    tokio::spawn(read_loop(
        read,
        options,
        writer.clone(),
        input,
        device.clone(),
    ));
    let mut terminal = Terminal::new(
        Output::Telnet(writer),
        true,
        typed,
        device,
        number,
        socket,
        String::new(),
    );
    if login(&mut terminal).await.is_ok() {
        shell(terminal).await;
    }
}

/// Reads the client's bytes: data goes to the terminal, negotiation is answered here. Ends
/// when the client closes the connection (which ends the terminal's reads too).
async fn read_loop(
    mut read: OwnedReadHalf,
    mut options: Negotiator,
    writer: Writer,
    input: mpsc::UnboundedSender<Vec<u8>>,
    device: Arc<Device>,
) {
    let mut decoder = Decoder::new();
    let mut events = Vec::new();
    let mut buf = vec![0; 16 * 1024];
    loop {
        let n = match read.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let data = decoder.decode(&mut buf[..n], &mut events);
        let mut answer = Vec::new();
        for event in events.drain(..) {
            match event {
                Event::Negotiation(verb, option) => {
                    let change = options.receive(verb, option, &mut answer);
                    tracing::trace!(device = %device.spec.name, "telnet: {} {}", verb.as_str(), opt::name(option));
                    if change == Some(Change::Enabled(Side::Remote, opt::TERMINAL_TYPE)) {
                        netsweep_telnet::terminal_type_send(&mut answer);
                    }
                }
                Event::Subnegotiation { option, data } if option == opt::NAWS => {
                    if let Some((width, height)) = netsweep_telnet::parse_window_size(&data) {
                        device.counters.record_window(width, height);
                    }
                }
                Event::Subnegotiation { option, data } if option == opt::TERMINAL_TYPE => {
                    if let Some(name) = netsweep_telnet::parse_terminal_type_is(&data) {
                        tracing::debug!(device = %device.spec.name, terminal = %String::from_utf8_lossy(name), "telnet: terminal type");
                    }
                }
                Event::Subnegotiation { .. } | Event::Command(_) => {}
            }
        }
        if !answer.is_empty() && writer.raw(&answer).await.is_err() {
            return;
        }
        if data > 0 && input.send(buf[..data].to_vec()).is_err() {
            return;
        }
    }
}

/// The platform's login: its banner and prompts, the user name echoed and the password not.
/// Returns once the client is logged in; a client refused too often is hung up on.
async fn login(t: &mut Terminal) -> Result<(), Gone> {
    let spec = t.device().spec.clone();
    // Network CLIs greet as IOS does (the model's SSH banner, then `Username:`); a Unix host
    // as a getty does.
    let (greeting, user_prompt, refusal) = match spec.platform.model().kind {
        Kind::Cli => (
            format!(
                "{}User Access Verification\r\n\r\n",
                spec.platform
                    .model()
                    .auth_banner
                    .as_deref()
                    .unwrap_or("\r\n")
            ),
            "Username: ".to_owned(),
            "\r\n% Login invalid\r\n\r\n",
        ),
        Kind::Unix => (
            "Debian GNU/Linux 12\r\n\r\n".to_owned(),
            format!("{} login: ", spec.hostname),
            "\r\nLogin incorrect\r\n",
        ),
    };
    t.write(format!("{greeting}{user_prompt}")).await?;
    for attempt in 1..=LOGIN_ATTEMPTS {
        let user = loop {
            // An empty line (a client waking the line up) only gets the prompt again.
            match t.read_line(true).await? {
                Typed::Line(user) if !user.trim().is_empty() => break user,
                _ => t.write(user_prompt.clone()).await?,
            }
        };
        t.write("Password: ").await?;
        let password = match t.read_line(false).await? {
            Typed::Line(password) => password,
            Typed::CtrlZ => String::new(),
        };
        let (name, _) = split_login(spec.platform.model(), &user);
        let ok =
            name == spec.username && password == spec.password && !spec.behaviour.has(Fault::Auth);
        let counters = &t.device().counters;
        if ok {
            counters.auth_ok.fetch_add(1, Ordering::Relaxed);
            t.set_login_name(user);
            return Ok(());
        }
        counters.auth_failed.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(REFUSAL_DELAY).await;
        if attempt == LOGIN_ATTEMPTS {
            t.write(refusal).await?;
            t.close(1).await;
            return Err(Gone);
        }
        t.write(format!("{refusal}{user_prompt}")).await?;
    }
    Err(Gone)
}
