# Writes INPUT as a NUL-terminated C string array into OUTPUT.
file(READ ${INPUT} hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n" bytes "${bytes}")
file(WRITE ${OUTPUT}
  "/* Generated from nodes.json at build time; do not edit. */\n"
  "const char cutout_embedded_nodes_json[] = {\n${bytes}0x00};\n")
