// Embedding a Seedcast player on a site of ANY origin with one classic script tag:
//
//   <script src="https://seedcast.example/embed.js" async></script>
//   <seedcast-player src="magnet:?xt=urn:btih:..." poster="https://.../poster.jpg"></seedcast-player>
//
// Each <seedcast-player> becomes an <iframe> of embed.html from the origin this script came
// from: playback needs that origin's service worker (sw.js), which cannot serve another
// origin's pages. Same attributes as player.js (src, poster, trackers, file, autoplay,
// muted); size the element with CSS (default: full width, 16:9). A classic script, so it
// loads cross-origin without CORS headers. On the Seedcast origin itself, use player.js
// (the element without an iframe). If player.js already defined the element, this does nothing.
(function () {
  'use strict';
  if (customElements.get('seedcast-player')) return;
  var base = new URL('embed.html', document.currentScript ? document.currentScript.src : location.href);
  var ATTRS = ['poster', 'trackers', 'file', 'autoplay', 'muted'];

  class SeedcastPlayerFrame extends HTMLElement {
    static get observedAttributes() { return ['src'].concat(ATTRS); }
    connectedCallback() { this.render(); }
    attributeChangedCallback() { if (this.isConnected) this.render(); }
    render() {
      var params = new URLSearchParams();
      for (var i = 0; i < ATTRS.length; i++) {
        if (this.hasAttribute(ATTRS[i])) params.set(ATTRS[i], this.getAttribute(ATTRS[i]) || '');
      }
      // The fragment carries the magnet as written (embed.html does not decode it); a `#` in it
      // would end the fragment, and %23 reads the same to the magnet parser.
      var url = base.href + '?' + params + '#' + (this.getAttribute('src') || '').replace(/#/g, '%23');
      var frame = this.shadowRoot && this.shadowRoot.querySelector('iframe');
      if (frame && frame.src === url) return;
      var root = this.shadowRoot || this.attachShadow({ mode: 'open' });
      var style = document.createElement('style');
      style.textContent = ':host{display:block}iframe{display:block;width:100%;height:100%;min-height:200px;aspect-ratio:16/9;border:0}';
      frame = document.createElement('iframe');
      frame.src = url;
      frame.allow = 'autoplay; fullscreen';
      frame.allowFullscreen = true;
      frame.title = this.getAttribute('aria-label') || 'Video player';
      root.replaceChildren(style, frame);
    }
  }
  customElements.define('seedcast-player', SeedcastPlayerFrame);
})();
