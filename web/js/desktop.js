// Browser notifications for a mention or a direct message that arrives
// while the tab is hidden. Permission is only ever asked from a click
// (the "Enable notifications" button): browsers ignore or penalise pages
// that ask on load, and a surprise prompt is a poor welcome.

const supported = typeof window !== 'undefined' && 'Notification' in window;

export const desktop = {
  /** 'default' | 'granted' | 'denied' | 'unsupported' */
  get permission() {
    return supported ? Notification.permission : 'unsupported';
  },

  /** Ask for permission; call this from a click handler only. */
  async request() {
    if (!supported) return 'unsupported';
    try {
      return await Notification.requestPermission();
    } catch {
      return Notification.permission;
    }
  },

  /**
   * Show a notification when allowed and the tab is hidden. A click on it
   * brings the tab forward and runs onClick. tag groups a room's
   * notifications, so a busy room shows one, not a pile.
   */
  show({ title, body, tag, onClick }) {
    if (!supported || Notification.permission !== 'granted' || document.visibilityState === 'visible') return false;
    try {
      const n = new Notification(title, { body, tag, renotify: Boolean(tag) });
      n.onclick = () => {
        window.focus();
        n.close();
        if (onClick) onClick();
      };
      n.onerror = () => {};
      return true;
    } catch {
      return false; // some browsers only allow notifications from a service worker
    }
  },
};
