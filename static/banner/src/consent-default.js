/* consent-default.js: Google Consent Mode's default (everything denied but security), for pages
   whose own gtag or GTM snippet must not wait for the async banner. Load it synchronously, before
   that snippet:
     <script src="https://SERVICE/banner/v1/consent-default.js"></script>
   cookiegate.js then sends the updates as usual. */
import { consentDefault } from "./consent-mode.js";

consentDefault();
