//! Two native WebRTC connections (`seedcast::native::rtc`) on loopback, signaled by hand with
//! complete SDP: the channel opens on both sides, bytes arrive whole and in order although
//! they are split into messages, and the buffered amount is reported back.
#![cfg(not(target_arch = "wasm32"))]

use std::sync::Arc;
use std::time::Duration;

use seedcast::native::rtc::{Conn, ConnEvent, Mdns, RtcConfig};
use tokio::sync::mpsc;

fn loopback() -> Arc<RtcConfig> {
    Arc::new(RtcConfig {
        udp_bind: vec!["127.0.0.1:0".parse().unwrap()],
        include_loopback: true,
        mdns: Mdns::Off,
        ice_servers: Vec::new(),
    })
}

async fn next(rx: &mut mpsc::Receiver<(u64, ConnEvent)>) -> (u64, ConnEvent) {
    tokio::time::timeout(Duration::from_secs(20), rx.recv())
        .await
        .expect("an event within 20 s")
        .expect("queue open")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_native_connections_carry_a_byte_stream() {
    let (tx, mut rx) = mpsc::channel(1024);
    let mut offerer = Conn::offer(1, loopback(), tx.clone());
    let offer = match next(&mut rx).await {
        (1, ConnEvent::LocalSdp(sdp)) => sdp,
        other => panic!("expected the offer, got {other:?}"),
    };
    assert!(
        offer.contains("a=candidate:"),
        "complete SDP carries its candidates: {offer}"
    );
    assert!(offer.contains("webrtc-datachannel"));
    let mut answerer = Conn::answer(2, loopback(), offer, tx.clone());
    let answer = match next(&mut rx).await {
        (2, ConnEvent::LocalSdp(sdp)) => sdp,
        other => panic!("expected the answer, got {other:?}"),
    };
    assert!(answer.contains("a=candidate:"));
    offerer.accept_answer(answer);

    let mut open = [false, false];
    while open != [true, true] {
        match next(&mut rx).await {
            (id @ (1 | 2), ConnEvent::Open) => open[id as usize - 1] = true,
            (_, ConnEvent::Buffered { .. }) => {}
            other => panic!("expected both channels to open, got {other:?}"),
        }
    }

    // 1 MiB + a bit from the offerer: more than any one message may carry.
    let payload: Vec<u8> = (0..(1 << 20) + 1234u32)
        .map(|i| (i * 7 + i / 251) as u8)
        .collect();
    offerer.send(payload[..300_000].to_vec());
    offerer.send(payload[300_000..].to_vec());
    answerer.send(b"hello back".to_vec());
    let mut received = Vec::new();
    let mut back = Vec::new();
    let mut largest = 0;
    let mut drained = false;
    while received.len() < payload.len() || back.len() < 10 || !drained {
        match next(&mut rx).await {
            (2, ConnEvent::Data(bytes)) => {
                largest = largest.max(bytes.len());
                received.extend(bytes);
            }
            (1, ConnEvent::Data(bytes)) => back.extend(bytes),
            (
                1,
                ConnEvent::Buffered {
                    outstanding,
                    processed,
                },
            ) => {
                // Everything handed over was queued and has left the buffer.
                drained = offerer.buffered(outstanding, processed) == 0
                    && processed == payload.len() as u64;
            }
            (_, ConnEvent::Buffered { .. }) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(received == payload, "bytes arrive whole and in order");
    assert_eq!(back, b"hello back");
    assert!(
        largest <= 256 * 1024,
        "split at the remote's max message size"
    );

    // Closing one side closes the other, and both tasks end (nothing is left running).
    let offerer_task = offerer.close();
    loop {
        match next(&mut rx).await {
            (2, ConnEvent::Closed(_)) => break,
            (2, ConnEvent::Buffered { .. }) => {}
            (1, _) => {} // the dropped side reports nothing the driver would read
            other => panic!("expected the answerer to close, got {other:?}"),
        }
    }
    let answerer_task = answerer.close();
    for task in [offerer_task, answerer_task] {
        tokio::time::timeout(Duration::from_secs(10), task)
            .await
            .expect("the connection task ends")
            .expect("and does not panic");
    }
}
