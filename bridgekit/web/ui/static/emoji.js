// The emoji the composer's ":" shortcut offers (seed 003: "단축키 : 으로 빠르게 사용할 수 있어요"):
// a small list written for bridgekit, no network. Each entry: the emoji, its name (typed as
// ":name"), and further words it is found by, in English, Korean and Japanese.
export const EMOJI = [
  ["😄", "smile", "happy grin 웃음 미소 기쁨 笑顔 にこにこ えがお"],
  ["😃", "smiley", "happy 웃음 스마일 笑い スマイル"],
  ["😊", "blush", "happy shy 미소 수줍음 にっこり 照れ"],
  ["😂", "joy", "laugh tears lol 빵터짐 ㅋㅋ 爆笑 笑い泣き"],
  ["🙂", "slight_smile", "ok 미소 ほほえみ"],
  ["😉", "wink", "윙크 ウインク"],
  ["😍", "heart_eyes", "love 하트눈 사랑 目がハート"],
  ["🥰", "smiling_hearts", "love 사랑 愛"],
  ["😅", "sweat_smile", "phew 진땀 식은땀 汗 苦笑い"],
  ["😢", "cry", "sad tear 슬픔 눈물 悲しい 涙"],
  ["😭", "sob", "sad crying 엉엉 울음 号泣"],
  ["😮", "open_mouth", "surprised wow 놀람 驚き びっくり"],
  ["🤔", "thinking", "hmm think 생각 고민 考える"],
  ["😓", "sweat", "tired 난감 困った"],
  ["😡", "angry", "mad 화남 분노 怒り"],
  ["😴", "sleeping", "zzz 졸림 잠 眠い"],
  ["🙏", "pray", "please thanks 부탁 감사 お願い ありがとう"],
  ["🙇", "bow", "sorry apology 죄송 사과 お辞儀 すみません"],
  ["👍", "thumbsup", "+1 like yes ok 좋아요 최고 いいね"],
  ["👎", "thumbsdown", "-1 no 싫어요 별로 だめ"],
  ["👏", "clap", "applause bravo 박수 拍手"],
  ["👋", "wave", "hello hi bye 안녕 인사 こんにちは バイバイ"],
  ["🙌", "raised_hands", "hooray yay 만세 ばんざい"],
  ["👌", "ok_hand", "okay perfect 오케이 좋아 オーケー"],
  ["✌️", "v", "peace victory 브이 ピース"],
  ["💪", "muscle", "strong 힘 화이팅 がんばれ"],
  ["❤️", "heart", "love 하트 사랑 ハート 愛"],
  ["💙", "blue_heart", "love 파란하트 青いハート"],
  ["💔", "broken_heart", "sad 상처 失恋"],
  ["✨", "sparkles", "shiny new 반짝 キラキラ"],
  ["🎉", "tada", "party congratulations 축하 파티 おめでとう お祝い"],
  ["🎁", "gift", "present 선물 プレゼント"],
  ["🔥", "fire", "hot lit 불 대박 炎 熱い"],
  ["⭐", "star", "favourite 별 星"],
  ["✅", "white_check_mark", "done check yes 완료 확인 完了 チェック"],
  ["❌", "x", "no wrong cancel 취소 아니요 バツ"],
  ["⚠️", "warning", "caution 주의 경고 注意 警告"],
  ["❓", "question", "help 질문 물음표 質問 はてな"],
  ["❗", "exclamation", "important 느낌표 중요 びっくりマーク"],
  ["💡", "bulb", "idea tip 아이디어 팁 アイデア ひらめき"],
  ["📦", "package", "parcel delivery box 택배 배송 상자 荷物 配送"],
  ["🚚", "truck", "delivery shipping 배송 배달 トラック 配達"],
  ["📞", "phone", "call 전화 電話"],
  ["📧", "email", "mail 메일 이메일 メール"],
  ["📅", "calendar", "date 달력 날짜 カレンダー 日付"],
  ["⏰", "alarm_clock", "time 시계 알람 時計 アラーム"],
  ["💳", "credit_card", "payment 카드 결제 カード 支払い"],
  ["💰", "moneybag", "money refund 돈 환불 お金 返金"],
  ["🛒", "shopping_cart", "cart order 장바구니 주문 カート 注文"],
  ["🔗", "link", "url 링크 リンク"],
  ["🔒", "lock", "secure password 잠금 보안 鍵 ロック"],
  ["👀", "eyes", "look see 봐요 확인중 見て"],
  ["💬", "speech_balloon", "chat message 말풍선 대화 吹き出し"],
  ["☕", "coffee", "break 커피 コーヒー"],
  ["🍀", "four_leaf_clover", "luck 행운 幸運"],
  ["☀️", "sunny", "sun weather 맑음 해 晴れ 太陽"],
  ["☔", "umbrella", "rain 비 우산 雨 傘"],
  ["🌸", "cherry_blossom", "spring flower 벚꽃 꽃 桜 花"],
  ["🐶", "dog", "puppy 강아지 개 犬 いぬ"],
  ["🐱", "cat", "kitty 고양이 猫 ねこ"],
].map(([emoji, name, words]) => ({ emoji, name, words: words.toLowerCase().split(" ") }));

// The emoji whose name, a part of its name or one of its words starts with `query`, the ones
// whose name starts with it first.
export function findEmoji(query) {
  const typed = query.toLowerCase();
  const byName = [];
  const byWord = [];
  for (const entry of EMOJI) {
    if (entry.name.startsWith(typed)) byName.push(entry);
    else if (entry.name.split("_").some((part) => part.startsWith(typed)) || entry.words.some((word) => word.startsWith(typed))) byWord.push(entry);
  }
  return [...byName, ...byWord];
}
