//! The mail backends end to end: files in a temporary directory, SMTP against a minimal local server.

use kontor_config::MailSettings;
use kontor_domain::customer::{Mail, MailError, Mailer};
use kontor_mail::{FileMailer, SmtpMailer, from_settings};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

fn reset_mail() -> Mail {
    Mail {
        to: "erika@example.com".to_owned(),
        subject: "Reset your password".to_owned(),
        body: "Use this key: 0123abcd\n".to_owned(),
    }
}

fn eml_files(directory: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(directory)
        .expect("mail directory exists")
        .map(|entry| entry.expect("entry").path())
        .collect();
    files.sort();
    files
}

#[tokio::test]
async fn file_mailer_writes_one_eml_file_per_mail() {
    let directory = tempfile::tempdir().expect("temp dir");
    let mailer = FileMailer::new(directory.path().join("mail"), "Kontor Shop <shop@localhost>").expect("mailer");
    mailer.send(&reset_mail()).await.expect("sent");
    mailer.send(&reset_mail()).await.expect("sent again");

    let files = eml_files(&directory.path().join("mail"));
    assert_eq!(files.len(), 2, "{files:?}");
    assert!(
        files
            .iter()
            .all(|file| file.extension().is_some_and(|ext| ext == "eml"))
    );
    let text = std::fs::read_to_string(&files[0]).expect("readable");
    assert!(text.contains("To: erika@example.com"), "{text}");
    assert!(text.contains("From: \"Kontor Shop\" <shop@localhost>"), "{text}");
    assert!(text.contains("Subject: Reset your password"), "{text}");
    assert!(text.contains("Content-Type: text/plain; charset=utf-8"), "{text}");
    assert!(text.contains("0123abcd"), "{text}");
}

#[tokio::test]
async fn bad_recipients_are_refused_before_anything_is_written() {
    let directory = tempfile::tempdir().expect("temp dir");
    let mailer = FileMailer::new(directory.path(), "shop@localhost").expect("mailer");
    let mail = Mail {
        to: "not an address".to_owned(),
        ..reset_mail()
    };
    let error = mailer.send(&mail).await.expect_err("refused");
    assert!(matches!(error, MailError::Address(_)), "{error:?}");
    assert!(eml_files(directory.path()).is_empty());
}

#[tokio::test]
async fn settings_without_smtp_write_files_under_the_data_dir() {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let settings = MailSettings {
        smtp_url: String::new(),
        from: "Kontor Shop <shop@localhost>".to_owned(),
    };
    let mailer = from_settings(&settings, data_dir.path()).expect("mailer");
    mailer.send(&reset_mail()).await.expect("sent");
    assert_eq!(eml_files(&data_dir.path().join("mail")).len(), 1);

    let broken = MailSettings {
        smtp_url: String::new(),
        from: "nobody".to_owned(),
    };
    assert!(from_settings(&broken, data_dir.path()).is_err());
}

/// A one-connection SMTP server that accepts everything and hands back the DATA it received.
async fn smtp_server() -> (u16, tokio::task::JoinHandle<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("address").port();
    let server = tokio::spawn(async move {
        let (socket, _) = listener.accept().await.expect("a client connects");
        let (read, mut write) = socket.into_split();
        let mut lines = BufReader::new(read).lines();
        write.write_all(b"220 test ESMTP\r\n").await.expect("greeting");
        let mut data = String::new();
        let mut in_data = false;
        while let Ok(Some(line)) = lines.next_line().await {
            if in_data {
                if line == "." {
                    in_data = false;
                    write.write_all(b"250 queued\r\n").await.expect("reply");
                } else {
                    data.push_str(&line);
                    data.push('\n');
                }
                continue;
            }
            let command = line.to_ascii_uppercase();
            let reply: &[u8] = if command.starts_with("EHLO") {
                b"250-test\r\n250 8BITMIME\r\n"
            } else if command.starts_with("DATA") {
                in_data = true;
                b"354 go ahead\r\n"
            } else if command.starts_with("QUIT") {
                write.write_all(b"221 bye\r\n").await.expect("reply");
                break;
            } else {
                b"250 ok\r\n"
            };
            write.write_all(reply).await.expect("reply");
        }
        data
    });
    (port, server)
}

#[tokio::test]
async fn smtp_mailer_delivers_to_a_local_relay() {
    let (port, server) = smtp_server().await;
    let settings = MailSettings {
        smtp_url: format!("smtp://127.0.0.1:{port}"),
        from: "Kontor Shop <shop@example.com>".to_owned(),
    };
    let mailer = from_settings(&settings, std::path::Path::new("/nonexistent")).expect("mailer");
    mailer.send(&reset_mail()).await.expect("delivered");
    let data = tokio::time::timeout(std::time::Duration::from_secs(10), server)
        .await
        .expect("server finished")
        .expect("server ok");
    assert!(data.contains("Subject: Reset your password"), "{data}");
    assert!(data.contains("0123abcd"), "{data}");
}

#[tokio::test]
async fn smtp_delivery_failures_are_transport_errors() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("address").port();
    drop(listener);
    let mailer = SmtpMailer::new(&format!("smtp://127.0.0.1:{port}"), "shop@example.com").expect("mailer");
    let error = mailer.send(&reset_mail()).await.expect_err("nobody listens");
    assert!(matches!(error, MailError::Transport(_)), "{error:?}");
}
