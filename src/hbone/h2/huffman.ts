// HPACK's static Huffman code (RFC 7541 Appendix B), decoding only: Ambit sends header strings raw and reads
// whatever a peer chose. The code is canonical, so the 257 code lengths alone define it; the codes are rebuilt
// from them at load (symbols ordered by length, then value).

/** Code length of symbols 0…256 (256 = EOS), as `'A' + (length − 5)`. */
const LENGTHS =
  'ISXXXXXXXTZXXZXXXXXXXXZXXXXXXXXXBFFHIBDGFFDGDBBBAAABBBBBBBCDKBHF' +
  'IBCCCCCCCCCCCCCCCCCCCCCCDCDIOIJBKABABABBBACCBBBABCBAABCCCCCKGJIX' +
  'PRPPRRRSRSSSSSTSTTRSTSSSSQRSRSSTRQPRRSSQSRRTQRSSQQRQSRSSPRRRSRRS' +
  'VVPORSRUVVVWWVTUOQVWWVWTQQVVXWWWPTPQRQQSRRUUTTVSVWVVWWWWWXWWWWWV' +
  'Z';

const EOS = 256;
const MAX_LENGTH = 30;

/** Canonical decoding tables: per length, the first code, how many codes, and where its symbols start. */
const firstCode = new Array<number>(MAX_LENGTH + 1).fill(0);
const countOf = new Array<number>(MAX_LENGTH + 1).fill(0);
const offsetOf = new Array<number>(MAX_LENGTH + 1).fill(0);
const symbolsByCode: number[] = [];
{
  const lengthOf = (s: number): number => LENGTHS.charCodeAt(s) - 65 + 5;
  for (let s = 0; s <= EOS; s++) countOf[lengthOf(s)]++;
  for (let len = 1; len <= MAX_LENGTH; len++) {
    for (let s = 0; s <= EOS; s++) if (lengthOf(s) === len) symbolsByCode.push(s);
  }
  let code = 0;
  let offset = 0;
  for (let len = 1; len <= MAX_LENGTH; len++) {
    firstCode[len] = code;
    offsetOf[len] = offset;
    code = (code + countOf[len]) * 2;
    offset += countOf[len];
  }
}

/** Decodes a Huffman-coded string; throws on EOS inside the string or on padding that is not a prefix of EOS. */
export function huffmanDecode(input: Buffer): Buffer {
  const out = Buffer.allocUnsafe(Math.ceil((input.length * 8) / 5));
  let n = 0;
  let code = 0;
  let len = 0;
  for (const byte of input) {
    for (let bit = 7; bit >= 0; bit--) {
      code = code * 2 + ((byte >> bit) & 1);
      len++;
      const index = code - firstCode[len];
      if (index >= 0 && index < countOf[len]) {
        const symbol = symbolsByCode[offsetOf[len] + index];
        if (symbol === EOS) throw new Error('Huffman string contains EOS');
        out[n++] = symbol;
        code = 0;
        len = 0;
      } else if (len >= MAX_LENGTH) {
        throw new Error('invalid Huffman code');
      }
    }
  }
  // Padding: fewer than 8 bits, all ones (the most significant bits of EOS).
  if (len > 7 || code !== 2 ** len - 1) throw new Error('invalid Huffman padding');
  return out.subarray(0, n);
}
