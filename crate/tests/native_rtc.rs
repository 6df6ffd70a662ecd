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

/// A bare `webrtc` offerer with one channel made with `init`, for peers that break the rules.
mod raw {
    use std::sync::Arc;

    use tokio::sync::mpsc;
    use webrtc::data_channel::{DataChannel, DataChannelEvent, RTCDataChannelInit};
    use webrtc::peer_connection::{
        PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler, RTCConfigurationBuilder,
        RTCIceGatheringState, RTCSessionDescription, SettingEngineBuilder,
    };

    struct Gathered(mpsc::UnboundedSender<()>);

    #[async_trait::async_trait]
    impl PeerConnectionEventHandler for Gathered {
        async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
            if state == RTCIceGatheringState::Complete {
                let _ = self.0.send(());
            }
        }
    }

    /// The peer connection's type cannot be named (`impl PeerConnection`): the answer closure
    /// owns it, and keeps it alive as long as the `Offerer`.
    pub struct Offerer {
        pub channel: Arc<dyn DataChannel>,
        pub offer: String,
        answer: Arc<dyn Fn(String) -> futures_util::future::BoxFuture<'static, ()> + Send + Sync>,
    }

    impl Offerer {
        pub async fn accept(&self, answer: String) {
            (self.answer)(answer).await
        }

        /// Waits until the channel is open.
        pub async fn opened(&self) {
            while let Some(event) = self.channel.poll().await {
                if matches!(event, DataChannelEvent::OnOpen) {
                    return;
                }
            }
            panic!("the raw channel closed before opening");
        }
    }

    pub async fn offerer(init: RTCDataChannelInit) -> Offerer {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let pc = PeerConnectionBuilder::new()
            .with_configuration(RTCConfigurationBuilder::new().build())
            .with_setting_engine(
                SettingEngineBuilder::new()
                    .with_include_loopback_candidate(true)
                    .with_multicast_dns_mode(::rtc::ice::mdns::MulticastDnsMode::Disabled)
                    .build(),
            )
            .with_handler(Arc::new(Gathered(tx)))
            .with_udp_addrs(vec!["127.0.0.1:0".to_string()])
            .build()
            .await
            .unwrap();
        let pc = Arc::new(pc);
        let channel = pc.create_data_channel("raw", Some(init)).await.unwrap();
        let offer = pc.create_offer(None).await.unwrap();
        pc.set_local_description(offer).await.unwrap();
        rx.recv().await.unwrap();
        let offer = pc.local_description().await.unwrap().sdp;
        Offerer {
            channel,
            offer,
            answer: Arc::new(move |sdp| {
                let pc = pc.clone();
                Box::pin(async move {
                    let answer = RTCSessionDescription::answer(sdp).unwrap();
                    pc.set_remote_description(answer).await.unwrap();
                })
            }),
        }
    }
}

async fn answer_raw(
    init: webrtc::data_channel::RTCDataChannelInit,
) -> (raw::Offerer, Conn, mpsc::Receiver<(u64, ConnEvent)>) {
    let raw = raw::offerer(init).await;
    let (tx, mut rx) = mpsc::channel(64);
    let conn = Conn::answer(9, loopback(), raw.offer.clone(), tx);
    let answer = match next(&mut rx).await {
        (9, ConnEvent::LocalSdp(sdp)) => sdp,
        other => panic!("expected the answer, got {other:?}"),
    };
    raw.accept(answer).await;
    (raw, conn, rx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_sending_text_is_dropped() {
    let (raw, _conn, mut rx) = answer_raw(Default::default()).await;
    raw.opened().await;
    assert!(matches!(next(&mut rx).await, (9, ConnEvent::Open)));
    raw.channel
        .send_text("not the wire protocol")
        .await
        .unwrap();
    loop {
        match next(&mut rx).await {
            (9, ConnEvent::Closed(reason)) => {
                assert_eq!(reason, "peer sent text on the binary channel");
                break;
            }
            (9, ConnEvent::Buffered { .. }) => {}
            other => panic!("expected the connection to close, got {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreliable_channel_is_refused() {
    let init = webrtc::data_channel::RTCDataChannelInit {
        ordered: false,
        max_retransmits: Some(0),
        ..Default::default()
    };
    let (_raw, _conn, mut rx) = answer_raw(init).await;
    match next(&mut rx).await {
        (9, ConnEvent::Failed(reason)) => {
            assert_eq!(reason, "peer's data channel is not ordered and reliable")
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}
