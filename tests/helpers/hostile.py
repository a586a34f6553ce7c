"""Hostile files for the tests: a PNG whose header claims any size, a YAML alias bomb, a tagged YAML payload."""
import struct
import zlib


def png_claiming(path, width, height):
    """A tiny PNG file whose header says ``width x height`` (8-bit RGB); its data decode to almost nothing."""
    def chunk(kind, data):
        return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data) & 0xffffffff)

    header = struct.pack('>IIBBBBB', width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', header) + chunk(b'IDAT', zlib.compress(b'\0' * 16))
                     + chunk(b'IEND', b''))
    return path


def alias_bomb(levels=9, width=9):
    """YAML text of ``width ** levels`` values in about a kilobyte (the "billion laughs")."""
    lines = ['l0: &l0 [' + ', '.join(['x'] * width) + ']']
    lines += [f'l{i}: &l{i} [' + ', '.join([f'*l{i - 1}'] * width) + ']' for i in range(1, levels + 1)]
    return '\n'.join(lines) + f'\nname: bomb\nmodel_type: SFDModel\ntrain: {{total_iter: *l{levels}}}\n'


PAYLOAD_TAG = "!!python/object/apply:os.system ['touch {marker}']"
