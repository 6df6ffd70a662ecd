// A poster for a creator's channel, made from the video itself: one frame drawn into a small
// canvas and encoded as a JPEG data URI that fits the channel format's bound.

/** Longest poster URI a channel takes (crate/src/channel MAX_POSTER_BYTES). */
export const MAX_POSTER_CHARS = 32 * 1024;
/** How long the browser may take to open the video and seek to the frame; beyond it, no poster. */
const FRAME_TIMEOUT_MS = 10_000;
/** Sizes and JPEG qualities tried in order, until one fits. */
const ATTEMPTS = [[320, 0.7], [320, 0.5], [240, 0.5], [160, 0.4]];

/** Resolves when `target` fires `event`; rejects on `error` or after FRAME_TIMEOUT_MS. */
function once(target, event) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event} within ${FRAME_TIMEOUT_MS / 1000} s`)), FRAME_TIMEOUT_MS);
    target.addEventListener(event, () => { clearTimeout(timer); resolve(); }, { once: true });
    target.addEventListener('error', () => { clearTimeout(timer); reject(new Error('the browser cannot decode it')); }, { once: true });
  });
}

/** A `data:image/jpeg;base64,` poster of `file` (a video), or undefined when the browser cannot
 *  decode it or no size fits (the work is then published without one). */
export async function makePoster(file) {
  const url = URL.createObjectURL(file);
  const video = document.createElement('video');
  video.muted = true;
  video.playsInline = true;
  video.preload = 'auto';
  try {
    const loaded = once(video, 'loadeddata');
    video.src = url;
    await loaded;
    if (!video.videoWidth || !video.videoHeight) return undefined; // audio only
    // A frame a little in, past a black or fading first frame.
    const at = Number.isFinite(video.duration) ? Math.min(1, video.duration / 10) : 0;
    if (at > 0) {
      const seeked = once(video, 'seeked');
      video.currentTime = at;
      await seeked;
    }
    const canvas = document.createElement('canvas');
    for (const [width, quality] of ATTEMPTS) {
      canvas.width = width;
      canvas.height = Math.max(1, Math.round((width * video.videoHeight) / video.videoWidth));
      canvas.getContext('2d').drawImage(video, 0, 0, canvas.width, canvas.height);
      const uri = canvas.toDataURL('image/jpeg', quality);
      if (uri.startsWith('data:image/jpeg;base64,') && uri.length <= MAX_POSTER_CHARS) return uri;
    }
    return undefined;
  } catch (e) {
    console.warn(`seedcast: no poster for ${file.name} (${e.message})`);
    return undefined;
  } finally {
    video.removeAttribute('src');
    video.load();
    URL.revokeObjectURL(url);
  }
}
