#pragma once
// The SOAP dossier the microbenchmarks work on (as bench/proxy/run.sh posts it).

#include <cstddef>
#include <string>

namespace lienthong::bench {

// A SOAP envelope with a dossier and attachment entries, about `size` bytes.
inline std::string soapBody(std::size_t size) {
  std::string text =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body>"
      "<h:HoSo xmlns:h=\"urn:lienthong:hoso:1\"><h:MaHoSo>000.00.01.H22-240315-0001</h:MaHoSo>"
      "<h:TrangThai>4</h:TrangThai><h:ChuHoSo>Nguyễn Văn An</h:ChuHoSo>";
  const std::string tail = "</h:HoSo></s:Body></s:Envelope>";
  for (int n = 1; text.size() + tail.size() + 80 < size; ++n) {
    text += "<h:TaiLieu><h:Ten>Giấy tờ kèm theo</h:Ten><h:So>" + std::to_string(n) +
            "</h:So></h:TaiLieu>";
  }
  return text + tail;
}

}  // namespace lienthong::bench
