//! One SSH connection to one simulated device: authentication, channels, and the shell and
//! exec conversations, with latency, paging and faults applied.
//!
//! The russh handler only records and forwards: each shell or exec channel gets its own task
//! that talks through the session [`Handle`]. russh flushes what a handler writes only when the
//! handler returns, so sleeping inside a handler would stall the whole connection; a task can
//! wait (latency, `--More--`, a hang) without holding anything up.

use std::collections::{HashMap, VecDeque};
use std::net::{Shutdown, TcpStream as StdTcpStream};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use russh::keys::PublicKey;
use russh::server::{
    Auth, Handle, Handler, Msg, PublicKeyOffer, Response, Session, VerifiedPublicKey,
};
use russh::{Channel, ChannelId, MethodKind, MethodSet};
use tokio::sync::mpsc;

use crate::device_cli::{DeviceCli, Step};
use crate::fleet::Device;
use crate::model::{Kind, Model, Paging};
use crate::spec::{Behaviour, Fault, Platform};
use crate::{hash_label, linux};

/// The connection-level state russh hands every callback.
pub(crate) struct Connection {
    device: Arc<Device>,
    /// 0 for the device's first connection; seeds this connection's jitter.
    number: u64,
    /// A second descriptor of the TCP socket, so `drop-mid-output` can cut the connection
    /// under russh's feet the way a crashing device does (FIN, no SSH goodbye).
    socket: Arc<StdTcpStream>,
    channels: HashMap<ChannelId, ChannelState>,
    /// The name the client logged in with (RouterOS clients append terminal options to it).
    login_name: String,
    /// `aaa-flaky`: the keyboard-interactive login was just shown the AAA error.
    aaa_error_shown: bool,
}

#[derive(Default)]
struct ChannelState {
    pty: bool,
    /// Bytes the client types, for the channel's shell task. Dropped on EOF.
    input: Option<mpsc::UnboundedSender<Vec<u8>>>,
}

/// The authentication methods a platform offers, as the real thing does.
pub(crate) fn methods(platform: Platform) -> MethodSet {
    MethodSet::from(&platform.model().methods()[..])
}

/// A login name and the terminal options appended to it (`admin+ct511w4098h`), on platforms
/// that take them (RouterOS); the whole name elsewhere.
pub(crate) fn split_login(model: &Model, login: &str) -> (String, String) {
    match login.split_once('+') {
        Some((user, options)) if model.login_options => (user.to_owned(), options.to_owned()),
        _ => (login.to_owned(), String::new()),
    }
}

/// RouterOS' login options: `c` turns colours off, `<n>h` sets the terminal height (the
/// page length). Width, `t` and `e` change nothing the simulator shows.
fn apply_login_options(cli: &mut DeviceCli, options: &str) {
    let mut number = String::new();
    for c in options.chars() {
        match c {
            '0'..='9' => number.push(c),
            'h' => {
                if let Ok(height) = number.parse::<usize>() {
                    cli.page_lines = height;
                }
                number.clear();
            }
            'c' => {
                cli.colours = false;
                number.clear();
            }
            _ => number.clear(),
        }
    }
}

/// The mode a login lands in: the model's mode for that user (Junos root: the shell), the
/// user mode for an `enable-fail` device, privileged mode for a privilege-15 account.
fn login_mode<'m>(model: &'m Model, behaviour: &Behaviour, user: &str) -> &'m str {
    if let Some(mode) = model.login_as.get(user) {
        return mode;
    }
    if behaviour.has(Fault::EnableFail)
        && let Some(mode) = model.enable_mode()
    {
        return mode;
    }
    if behaviour.privilege15
        && let Some(mode) = &model.privileged
    {
        return mode;
    }
    &model.login
}

/// `\n` → `\r\n`, as a device's terminal sends lines (model texts are written with `\n`).
fn crlf(text: &str) -> String {
    if text.contains('\r') {
        // A text that already has some `\r\n` (a banner): only lone `\n`s change.
        text.replace("\r\n", "\n").replace('\n', "\r\n")
    } else {
        text.replace('\n', "\r\n")
    }
}

impl Connection {
    pub(crate) fn new(device: Arc<Device>, number: u64, socket: Arc<StdTcpStream>) -> Self {
        Connection {
            device,
            number,
            socket,
            channels: HashMap::new(),
            login_name: String::new(),
            aaa_error_shown: false,
        }
    }

    /// Whether `login` names the device's user (options appended, where the platform takes
    /// them).
    fn is_user(&self, login: &str) -> bool {
        split_login(self.device.spec.platform.model(), login).0 == self.device.spec.username
    }

    /// `aaa-flaky:N`: whether this login with the right credentials is one of the first N,
    /// which the device's "AAA server" fails to answer.
    fn aaa_times_out(&self) -> bool {
        let n = u64::from(self.device.spec.behaviour.aaa_flaky_count());
        n > 0
            && self
                .device
                .counters
                .aaa_unavailable
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
                    (v < n).then_some(v + 1)
                })
                .is_ok()
    }

    fn check(&mut self, ok: bool, login: &str) -> Auth {
        let counters = &self.device.counters;
        if ok && !self.device.spec.behaviour.has(Fault::Auth) {
            counters.auth_ok.fetch_add(1, Ordering::Relaxed);
            self.login_name = login.to_owned();
            Auth::Accept
        } else {
            counters.auth_failed.fetch_add(1, Ordering::Relaxed);
            self.refuse()
        }
    }

    /// A rejection that goes on offering every method, as OpenSSH and IOS do (russh's default
    /// drops a method once it has failed, which no real device does).
    fn refuse(&self) -> Auth {
        Auth::Reject {
            proceed_with_methods: Some(methods(self.device.spec.platform)),
            partial_success: false,
        }
    }

    /// Whether the platform offers `method` (russh lets some through that it does not).
    fn offers(&self, method: MethodKind) -> bool {
        methods(self.device.spec.platform).contains(&method)
    }

    fn authorized(&self, user: &str, key: &PublicKey) -> bool {
        self.is_user(user)
            && self
                .device
                .authorized
                .iter()
                .any(|k| k.key_data() == key.key_data())
    }

    fn terminal(&mut self, channel: ChannelId, session: &Session) -> Terminal {
        let (tx, rx) = mpsc::unbounded_channel();
        let state = self.channels.entry(channel).or_default();
        state.input = Some(tx);
        let output = Output::Ssh {
            handle: session.handle(),
            channel,
        };
        Terminal::new(
            output,
            state.pty,
            rx,
            self.device.clone(),
            self.number,
            self.socket.clone(),
            self.login_name.clone(),
        )
    }
}

impl Handler for Connection {
    type Error = russh::Error;

    async fn auth_none(&mut self, _user: &str) -> Result<Auth, Self::Error> {
        let counters = &self.device.counters;
        counters.method_queries.fetch_add(1, Ordering::Relaxed);
        Ok(self.refuse())
    }

    async fn auth_password(&mut self, user: &str, password: &str) -> Result<Auth, Self::Error> {
        if !self.offers(MethodKind::Password) {
            return Ok(self.refuse());
        }
        let spec = &self.device.spec;
        let ok = self.is_user(user) && password == spec.password;
        if ok && !spec.behaviour.has(Fault::Auth) && self.aaa_times_out() {
            // As IOS does when its TACACS+ server times out on a password login: the
            // connection is closed, no verdict given.
            let _ = self.socket.shutdown(Shutdown::Both);
            return Err(russh::Error::Disconnect);
        }
        Ok(self.check(ok, user))
    }

    async fn auth_keyboard_interactive<'a>(
        &'a mut self,
        user: &str,
        _submethods: &str,
        response: Option<Response<'a>>,
    ) -> Result<Auth, Self::Error> {
        if !self.offers(MethodKind::KeyboardInteractive) {
            return Ok(self.refuse());
        }
        let Some(mut response) = response else {
            return Ok(Auth::Partial {
                name: "".into(),
                instructions: "".into(),
                prompts: vec![("Password: ".into(), false)].into(),
            });
        };
        if std::mem::take(&mut self.aaa_error_shown) {
            // The AAA server is still down for this login: refused, and not counted as a
            // failed login (no verdict on the credentials was given).
            return Ok(self.refuse());
        }
        let answer = response.next();
        let spec = &self.device.spec;
        let ok = self.is_user(user) && answer.as_deref() == Some(spec.password.as_bytes());
        if ok && !spec.behaviour.has(Fault::Auth) && self.aaa_times_out() {
            // IOS's words when every AAA method errored (the TACACS+ server timed out),
            // shown with the password prompt again; whatever is answered is refused. (With
            // no prompt, libssh2's clients would never see the words.)
            self.aaa_error_shown = true;
            return Ok(Auth::Partial {
                name: "".into(),
                instructions: "% Error in authentication.".into(),
                prompts: vec![("Password: ".into(), false)].into(),
            });
        }
        Ok(self.check(ok, user))
    }

    async fn auth_publickey_offered(
        &mut self,
        user: &str,
        offer: PublicKeyOffer<'_>,
    ) -> Result<Auth, Self::Error> {
        // Only a probe: a key the device does not know is not a failed login yet.
        Ok(if self.authorized(user, offer.public_key) {
            Auth::Accept
        } else {
            self.refuse()
        })
    }

    async fn auth_publickey(
        &mut self,
        user: &str,
        key: VerifiedPublicKey<'_>,
    ) -> Result<Auth, Self::Error> {
        let ok = self.authorized(user, key.public_key);
        Ok(self.check(ok, user))
    }

    async fn authentication_banner(&mut self) -> Result<Option<String>, Self::Error> {
        Ok(self.device.spec.platform.model().auth_banner.clone())
    }

    async fn channel_open_session(
        &mut self,
        channel: Channel<Msg>,
        reply: russh::server::ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        // Everything goes through the handler callbacks and the handle; the channel object
        // is not needed.
        self.channels.insert(channel.id(), ChannelState::default());
        reply.accept().await;
        Ok(())
    }

    async fn pty_request(
        &mut self,
        channel: ChannelId,
        _term: &str,
        _col_width: u32,
        _row_height: u32,
        _pix_width: u32,
        _pix_height: u32,
        _modes: &[(russh::Pty, u32)],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        self.channels.entry(channel).or_default().pty = true;
        // russh answers nothing by default, and libssh2 would wait for its own timeout.
        session.channel_success(channel)
    }

    async fn env_request(
        &mut self,
        channel: ChannelId,
        _name: &str,
        _value: &str,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        session.channel_failure(channel)
    }

    async fn window_change_request(
        &mut self,
        channel: ChannelId,
        _col_width: u32,
        _row_height: u32,
        _pix_width: u32,
        _pix_height: u32,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        session.channel_success(channel)
    }

    async fn shell_request(
        &mut self,
        channel: ChannelId,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        session.channel_success(channel)?;
        let terminal = self.terminal(channel, session);
        tokio::spawn(shell(terminal));
        Ok(())
    }

    async fn exec_request(
        &mut self,
        channel: ChannelId,
        data: &[u8],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        session.channel_success(channel)?;
        let command = String::from_utf8_lossy(data).into_owned();
        let terminal = self.terminal(channel, session);
        tokio::spawn(exec(terminal, command));
        Ok(())
    }

    async fn data(
        &mut self,
        channel: ChannelId,
        data: &[u8],
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        if let Some(input) = self.channels.get(&channel).and_then(|c| c.input.as_ref()) {
            let _ = input.send(data.to_vec());
        }
        Ok(())
    }

    async fn channel_eof(
        &mut self,
        channel: ChannelId,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        if let Some(state) = self.channels.get_mut(&channel) {
            state.input = None;
        }
        Ok(())
    }

    async fn channel_close(
        &mut self,
        channel: ChannelId,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        self.channels.remove(&channel);
        Ok(())
    }
}

/// The client went away (or the simulated device did): the task just ends.
pub(crate) struct Gone;

/// One line typed at a prompt.
pub(crate) enum Typed {
    Line(String),
    /// Ctrl-Z: leave configuration mode.
    CtrlZ,
}

/// What the pager was told at ` --More-- `.
enum Paged {
    Complete,
    Quit,
}

/// Where a terminal's output goes.
pub(crate) enum Output {
    /// An SSH channel, through the session handle.
    Ssh { handle: Handle, channel: ChannelId },
    /// A telnet connection (the CLI engine is the same; see `crate::telnet`).
    Telnet(crate::telnet::Writer),
}

/// A channel's conversation with its client: input from the handler (or the telnet reader),
/// output through the session handle (or the telnet writer), and the device's timing and
/// faults.
pub(crate) struct Terminal {
    out: Output,
    pty: bool,
    input: mpsc::UnboundedReceiver<Vec<u8>>,
    pending: VecDeque<u8>,
    /// Echo collected while reading one burst of input, sent as one packet.
    echo: Vec<u8>,
    last_was_cr: bool,
    device: Arc<Device>,
    rng: ChaCha20Rng,
    socket: Arc<StdTcpStream>,
    login_name: String,
}

/// Bytes per `data` message for big outputs: large enough to be cheap, small enough that
/// backpressure from russh's bounded queue still works.
const CHUNK: usize = 32 * 1024;

/// How long a dropping device waits after queueing its partial output before cutting TCP,
/// so the partial output reaches the client first.
const DROP_GRACE: Duration = Duration::from_millis(100);

impl Terminal {
    /// A terminal for connection number `number` of `device`: `input` brings what the client
    /// types; `pty` makes it a terminal (echo, `\r\n` line ends).
    pub(crate) fn new(
        out: Output,
        pty: bool,
        input: mpsc::UnboundedReceiver<Vec<u8>>,
        device: Arc<Device>,
        number: u64,
        socket: Arc<StdTcpStream>,
        login_name: String,
    ) -> Terminal {
        let mut seed = hash_label(device.seed, &device.spec.name);
        seed ^= number.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        Terminal {
            out,
            pty,
            input,
            pending: VecDeque::new(),
            echo: Vec::new(),
            last_was_cr: false,
            device,
            rng: ChaCha20Rng::seed_from_u64(seed),
            socket,
            login_name,
        }
    }

    fn has(&self, fault: Fault) -> bool {
        self.device.spec.behaviour.has(fault)
    }

    async fn next_byte(&mut self) -> Result<u8, Gone> {
        loop {
            if let Some(b) = self.pending.pop_front() {
                return Ok(b);
            }
            self.flush_echo().await?;
            let chunk = self.input.recv().await.ok_or(Gone)?;
            self.pending.extend(chunk);
        }
    }

    async fn flush_echo(&mut self) -> Result<(), Gone> {
        if self.echo.is_empty() {
            return Ok(());
        }
        let echo = std::mem::take(&mut self.echo);
        self.raw_write(echo).await
    }

    async fn raw_write(&self, data: Vec<u8>) -> Result<(), Gone> {
        match &self.out {
            Output::Ssh { handle, channel } => handle.data(*channel, data).await.map_err(|_| Gone),
            Output::Telnet(writer) => writer.data(&data).await.map_err(|_| Gone),
        }
    }

    pub(crate) async fn write(&mut self, data: impl Into<Vec<u8>>) -> Result<(), Gone> {
        self.flush_echo().await?;
        let data = data.into();
        if data.is_empty() {
            return Ok(());
        }
        self.raw_write(data).await
    }

    async fn write_stderr(&mut self, data: &str) -> Result<(), Gone> {
        if data.is_empty() {
            return Ok(());
        }
        match &self.out {
            Output::Ssh { handle, channel } => handle
                .extended_data(*channel, 1, data.as_bytes().to_vec())
                .await
                .map_err(|_| Gone),
            // A telnet connection has one stream: a terminal shows stderr among the rest.
            Output::Telnet(_) => self.write(data).await,
        }
    }

    /// Reads a line, echoing it if asked, with backspace and CR/LF/CRLF all handled.
    pub(crate) async fn read_line(&mut self, echo: bool) -> Result<Typed, Gone> {
        let mut line = Vec::new();
        loop {
            let b = self.next_byte().await?;
            let after_cr = std::mem::replace(&mut self.last_was_cr, b == b'\r');
            match b {
                b'\n' if after_cr => {}
                b'\r' | b'\n' => {
                    // A network CLI ends the line even when it does not echo (a password).
                    if echo || self.device.spec.platform.is_cli() {
                        self.echo.extend_from_slice(b"\r\n");
                    }
                    return Ok(Typed::Line(String::from_utf8_lossy(&line).into_owned()));
                }
                0x7f | 0x08 => {
                    let erased = line.pop().is_some();
                    if erased && echo {
                        self.echo.extend_from_slice(b"\x08 \x08");
                    }
                }
                0x1a => {
                    if echo {
                        self.echo.extend_from_slice(b"^Z\r\n");
                    }
                    return Ok(Typed::CtrlZ);
                }
                b'\t' => {}
                b if b >= 0x20 => {
                    line.push(b);
                    if echo {
                        self.echo.push(b);
                    }
                }
                _ => {}
            }
        }
    }

    /// Waits the device's per-command latency, jitter included.
    async fn latency(&mut self) {
        let behaviour = &self.device.spec.behaviour;
        let base = behaviour.latency.as_secs_f64();
        let jitter = behaviour.jitter.as_secs_f64();
        let delay = if jitter > 0.0 {
            (base + self.rng.random_range(-jitter..=jitter)).max(0.0)
        } else {
            base
        };
        if delay > 0.0 {
            tokio::time::sleep(Duration::from_secs_f64(delay)).await;
        }
    }

    /// Never answers again; returns when the client leaves.
    async fn hang(&mut self) -> Gone {
        self.flush_echo().await.ok();
        while self.input.recv().await.is_some() {}
        Gone
    }

    /// Sends a command's output, applying the mid-output faults, the trickle rate and (with a
    /// page length) ` --More-- `.
    async fn output(
        &mut self,
        text: &[u8],
        pager: Option<(&Paging, usize)>,
    ) -> Result<Paged, Gone> {
        let mid_fault = [Fault::HangMidOutput, Fault::DropMidOutput]
            .into_iter()
            .find(|f| self.has(*f));
        let text = match mid_fault {
            Some(_) if !text.is_empty() => &text[..text.len().div_ceil(2)],
            _ => text,
        };
        let paged = match pager {
            Some((paging, lines)) if lines > 1 => self.paged(text, paging, lines - 1).await?,
            _ => {
                self.send(text).await?;
                Paged::Complete
            }
        };
        match mid_fault {
            Some(Fault::HangMidOutput) => Err(self.hang().await),
            Some(_) => {
                tokio::time::sleep(DROP_GRACE).await;
                let _ = self.socket.shutdown(Shutdown::Both);
                Err(Gone)
            }
            None => Ok(paged),
        }
    }

    async fn paged(
        &mut self,
        text: &[u8],
        paging: &Paging,
        per_page: usize,
    ) -> Result<Paged, Gone> {
        let mut lines = text.split_inclusive(|&b| b == b'\n').peekable();
        let mut budget = per_page;
        while lines.peek().is_some() {
            let mut page = Vec::new();
            while budget > 0 {
                match lines.next() {
                    Some(line) => page.extend_from_slice(line),
                    None => break,
                }
                budget -= 1;
            }
            self.send(&page).await?;
            if lines.peek().is_none() {
                break;
            }
            self.write(paging.more.as_bytes()).await?;
            let mut key = self.next_byte().await?;
            // The LF of a CR LF line end (telnet's, or one that ended the command line) is not a key
            // press.
            while key == b'\n' && std::mem::take(&mut self.last_was_cr) {
                key = self.next_byte().await?;
            }
            self.write(paging.erase.as_bytes()).await?;
            budget = match key {
                b' ' => per_page,
                b'\r' | b'\n' => {
                    self.last_was_cr = key == b'\r';
                    1
                }
                _ => return Ok(Paged::Quit),
            };
        }
        Ok(Paged::Complete)
    }

    /// Sends bytes at the trickle rate, or in big chunks.
    async fn send(&mut self, text: &[u8]) -> Result<(), Gone> {
        self.flush_echo().await?;
        match self.device.spec.behaviour.trickle_bytes_per_sec {
            Some(rate) if rate > 0 => {
                const TICK: Duration = Duration::from_millis(50);
                let per_tick = ((rate as f64) * TICK.as_secs_f64()).ceil().max(1.0) as usize;
                let mut ticker = tokio::time::interval(TICK);
                for piece in text.chunks(per_tick) {
                    ticker.tick().await;
                    self.raw_write(piece.to_vec()).await?;
                }
            }
            _ => {
                for piece in text.chunks(CHUNK) {
                    self.raw_write(piece.to_vec()).await?;
                }
            }
        }
        Ok(())
    }

    /// Noise that looks like a console gone wrong, and never a prompt.
    async fn garbage(&mut self) -> Gone {
        let mut noise = Vec::with_capacity(512);
        for _ in 0..8 {
            let len = self.rng.random_range(20..60);
            noise.extend((0..len).map(|_| match self.rng.random_range(0u8..4) {
                0 => self.rng.random_range(0x80u8..=0xff),
                _ => self.rng.random_range(b'!'..=b'~'),
            }));
            noise.extend_from_slice(b"\r\n");
        }
        if self.write(noise).await.is_err() {
            return Gone;
        }
        self.hang().await
    }

    fn channel_done(&self) {
        self.device
            .counters
            .channels_done
            .fetch_add(1, Ordering::Relaxed);
    }

    fn count_command(&self) {
        self.device
            .counters
            .commands
            .fetch_add(1, Ordering::Relaxed);
    }

    /// Ends the channel the way the platform's server does (over telnet: closes the
    /// connection).
    pub(crate) async fn close(&mut self, exit_status: u32) {
        let _ = self.flush_echo().await;
        match &self.out {
            Output::Ssh { handle, channel } => {
                let _ = handle.exit_status_request(*channel, exit_status).await;
                let _ = handle.eof(*channel).await;
                let _ = handle.close(*channel).await;
            }
            Output::Telnet(writer) => writer.close().await,
        }
    }

    /// Records the name the client logged in with (telnet learns it after the terminal
    /// exists).
    pub(crate) fn set_login_name(&mut self, login: String) {
        self.login_name = login;
    }

    /// The device this terminal belongs to.
    pub(crate) fn device(&self) -> &Device {
        &self.device
    }

    /// `\n` → `\r\n`, as a PTY's output processing does.
    fn tty_text(&self, text: &str) -> String {
        if self.pty {
            text.replace('\n', "\r\n")
        } else {
            text.to_owned()
        }
    }
}

/// The platform's interactive CLI on a logged-in terminal, until the client leaves.
pub(crate) async fn shell(mut t: Terminal) {
    let _ = match t.device.spec.platform.model().kind {
        Kind::Cli => cli_conversation(&mut t).await,
        Kind::Unix => linux_conversation(&mut t).await,
    };
    t.channel_done();
}

/// A network device's shell, run from its platform model.
async fn cli_conversation(t: &mut Terminal) -> Result<(), Gone> {
    let device = t.device.clone();
    let spec = &device.spec;
    let facts = &device.facts;
    let model = spec.platform.model();
    if t.has(Fault::HangAfterAuth) {
        return Err(t.hang().await);
    }
    if t.has(Fault::Garbage) {
        return Err(t.garbage().await);
    }
    let (user, options) = split_login(model, &t.login_name);
    let mode = login_mode(model, &spec.behaviour, &user);
    let mut cli = DeviceCli::new(model, &spec.hostname, &user, mode)
        .with_configuration(Arc::clone(&device.configuration));
    apply_login_options(&mut cli, &options);
    let banner = cli.render_text(&model.banner, facts);
    t.write(crlf(&format!("{banner}{}", cli.prompt(facts))))
        .await?;
    loop {
        let line = match t.read_line(true).await? {
            Typed::Line(line) => line,
            Typed::CtrlZ => {
                cli.ctrl_z();
                t.write(crlf(&cli.prompt(facts))).await?;
                continue;
            }
        };
        if !line.trim().is_empty() {
            t.count_command();
        }
        match cli.execute(&line, facts) {
            Step::Print(text) => {
                t.write(crlf(&format!("{text}{}", cli.prompt(facts))))
                    .await?
            }
            Step::Show(text) => {
                t.latency().await;
                let pager = model
                    .paging
                    .as_ref()
                    .filter(|_| cli.page_lines > 0)
                    .map(|p| (p, cli.page_lines));
                t.output(crlf(&text).as_bytes(), pager).await?;
                t.write(crlf(&cli.prompt(facts))).await?;
            }
            Step::AskEnableSecret(question) => {
                t.write(question).await?;
                let answer = match t.read_line(false).await? {
                    Typed::Line(answer) => answer,
                    Typed::CtrlZ => String::new(),
                };
                let refuse = t.has(Fault::EnableFail);
                let reply = cli.enable_answer(&answer, &spec.secret, refuse, facts);
                t.write(crlf(&format!("{reply}{}", cli.prompt(facts))))
                    .await?;
            }
            Step::Confirm { question, yes, no } => {
                t.write(crlf(&question)).await?;
                let answer = match t.read_line(true).await? {
                    Typed::Line(answer) => answer,
                    Typed::CtrlZ => String::new(),
                };
                let reply = if answer.trim_start().starts_with(['y', 'Y']) {
                    cli.confirmed();
                    yes
                } else {
                    no
                };
                t.write(crlf(&format!("{reply}{}", cli.prompt(facts))))
                    .await?;
            }
            Step::Exit => {
                // OpenSSH's `ssh` exits 255 without an exit status; network devices send 0.
                t.close(0).await;
                return Ok(());
            }
        }
    }
}

async fn linux_conversation(t: &mut Terminal) -> Result<(), Gone> {
    let spec = t.device.spec.clone();
    if t.has(Fault::HangAfterAuth) {
        return Err(t.hang().await);
    }
    if t.has(Fault::Garbage) {
        return Err(t.garbage().await);
    }
    let device = t.device.clone();
    let model = spec.platform.model();
    let cli = DeviceCli::new(model, &spec.hostname, &spec.username, &model.login);
    let prompt = cli.prompt(&device.facts);
    let banner = cli.render_text(&model.banner, &device.facts);
    t.write(format!("{}{prompt}", t.tty_text(&banner))).await?;
    loop {
        let echo = t.pty;
        let Typed::Line(line) = t.read_line(echo).await? else {
            continue;
        };
        if line.trim().is_empty() {
            t.write(prompt.clone()).await?;
            continue;
        }
        t.count_command();
        let ran = linux::run(&line, &spec.hostname, &t.device.facts);
        if ran.exit {
            t.close(ran.status).await;
            return Ok(());
        }
        t.latency().await;
        let stdout = t.tty_text(&ran.stdout);
        t.output(stdout.as_bytes(), None).await?;
        if t.pty {
            let stderr = t.tty_text(&ran.stderr);
            t.write(stderr).await?;
        } else {
            t.write_stderr(&ran.stderr).await?;
        }
        t.write(prompt.clone()).await?;
    }
}

/// An exec channel (`ssh host command`): one command, its output, its exit status.
async fn exec(mut t: Terminal, command: String) {
    let _ = exec_conversation(&mut t, &command).await;
    t.channel_done();
}

async fn exec_conversation(t: &mut Terminal, command: &str) -> Result<(), Gone> {
    if t.has(Fault::HangAfterAuth) {
        return Err(t.hang().await);
    }
    if t.has(Fault::Garbage) {
        return Err(t.garbage().await);
    }
    t.count_command();
    let device = t.device.clone();
    let spec = &device.spec;
    let model = spec.platform.model();
    match model.kind {
        Kind::Unix => {
            let ran = linux::run(command, &spec.hostname, &device.facts);
            t.latency().await;
            let stdout = t.tty_text(&ran.stdout);
            t.output(stdout.as_bytes(), None).await?;
            t.write_stderr(&ran.stderr).await?;
            t.close(ran.status).await;
        }
        Kind::Cli => {
            // A network device runs an exec request as one command at the login's level.
            let (user, _) = split_login(model, &t.login_name);
            let mode = login_mode(model, &spec.behaviour, &user);
            let mut cli = DeviceCli::new(model, &spec.hostname, &user, mode)
                .with_configuration(Arc::clone(&device.configuration));
            let text = match cli.execute(command, &device.facts) {
                Step::Print(text) | Step::Show(text) => text,
                Step::AskEnableSecret(_) | Step::Confirm { .. } | Step::Exit => String::new(),
            };
            t.latency().await;
            t.output(crlf(&text).as_bytes(), None).await?;
            t.close(0).await;
        }
    }
    Ok(())
}
