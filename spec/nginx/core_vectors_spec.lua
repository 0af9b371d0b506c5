-- The shared core vectors inside nginx, regexes checked by ngx.re exactly as the engine checks
-- them when it applies a change.
require("support.core_vectors")(require("config.regex").pcreCheck, { describe = describe, it = it, assert = assert })
