-- The shared core vectors under plain LuaJIT; regexes are checked by libpcre through the FFI.
require("support.core_vectors")(require("support.pcre"), { describe = describe, it = it, assert = assert })
