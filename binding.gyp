{
  "targets": [
    {
      "target_name": "restnet",
      "sources": [
        "<!@(node -p \"const s = require('./native/sources.json'); s.core.concat(s.addon).join(' ')\")"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "native/core/include"
      ],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17", "-std=c++17"],
      "cflags_cc": ["-std=c++17", "-O3", "-fexceptions"],
      "ldflags": ["-static-libstdc++"],
      "conditions": [
        ["target_arch == 'x64'", { "cflags_cc": ["-march=x86-64"] }],
        ["target_arch == 'arm64'", { "cflags_cc": ["-march=armv8-a"] }]
      ]
    }
  ]
}
